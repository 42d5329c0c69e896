"""Run the benchmarks: `python -m benchmarks` runs all, `python -m benchmarks validate push` a selection.

Each benchmark module defines `run(workdir: Path, quick: bool) -> list[str]` returning Markdown lines with
its figures, measured against a reference in the same run; results are appended to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "validate",
    "push",
    "import",
    "query",
    "export",
    "explorer",
    "anomalies",
    "web",
    "catalog",
    "profiles",
    "gateway",
)


def machine() -> str:
    """A one-line description of this machine."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import os

    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores{mem}, {system}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run, of {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    parser.add_argument("--workdir", type=Path, default=HERE / ".work")
    args = parser.parse_args()
    names = args.names or list(BENCHMARKS)
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    header = f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit or '?'}\n\nMachine: {machine()}\n"
    failed = False
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            lines = module.run(args.workdir / name, args.quick)
        except Exception as exc:  # report and continue with the others
            failed = True
            lines = [f"FAILED: {exc!r}"]
        elapsed = time.perf_counter() - started
        text = "\n".join([header, f"### {name} ({elapsed:.0f} s)", "", *lines, ""])
        print(text, flush=True)
        with (results / f"{name}.md").open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
