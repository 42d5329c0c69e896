"""Run the official FOCUS validator (focus-validator 2.2.1) on a CSV or Parquet file and parse its verdict.

focus-validator 2.x needs Python >= 3.12 and `pyarrow<23`; it is installed once into a cached virtualenv
(~/.cache/focusbase/fv-venv, or $FOCUSBASE_FV_CACHE/fv-venv). Its quirks are handled here:
- it opens `focus_validator/rules/currency_codes.csv` relative to the working directory, so it runs from a
  prepared run directory holding a copy of that file;
- its exit code is 0 whatever it finds, so the verdict is read from its JUnit report (`<failure>` = the rule
  failed on the data, `<error>` = failed because a rule it depends on failed);
- KNOWN_VALIDATOR_BUGS lists the rules that fail on every conforming file (see the reasons).

Usage: `result = run_focus_validator(Path("export.csv"))`; `result.ok` is True when nothing but known
validator bugs failed. When no Python 3.12 interpreter exists, `result.available` is False and
`result.reason` says why (tests skip on that, and only on that).
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

FV_VERSION = "2.2.1"
FV_REQUIREMENTS = (f"focus-validator=={FV_VERSION}", "pyarrow<23")

# Rules focus-validator 2.2.1 fails on every conforming file. Each entry says why it is the validator's bug.
KNOWN_VALIDATOR_BUGS: Mapping[str, str] = {
    "InvoiceId-C-004-C": (
        "RM 1.2 models InvoiceId nullability as OR(C-004 'MUST be null', C-005 'MUST NOT be null') without "
        "conditions; the validator evaluates both branches on their own, so one of them always fails"
    ),
    "InvoiceId-C-005-C": "the other branch of the same unconditioned InvoiceId OR (see InvoiceId-C-004-C)",
}


# With `--applicability-criteria ALL` (conditional columns checked too) these model defects also fail on
# conforming data; FOCUS publishes them as errata of requirements model 1.2. Composite rules fail whenever
# a child fails; the child itself is still reported, so listing the composites hides nothing else.
KNOWN_MODEL_ERRATA_ALL_CRITERIA: Mapping[str, str] = {
    **KNOWN_VALIDATOR_BUGS,
    "CommitmentDiscountStatus-C-004-C": (
        "RM 1.2 erratum #2: the null check is inverted (MUST NOT be null when CommitmentDiscountId IS null)"
    ),
    "CommitmentDiscountStatus-C-002-C": "composite parent of CommitmentDiscountStatus-C-004-C",
    "CommitmentDiscountStatus-C-000-C": "composite parent of CommitmentDiscountStatus-C-004-C",
    "CapacityReservationStatus-C-004-C": (
        "its condition is malformed (renders as None()), so 'MUST NOT be null' applies to every row, "
        "including rows without a CapacityReservationId"
    ),
    "CapacityReservationStatus-C-002-C": "composite parent of CapacityReservationStatus-C-004-C",
    "CapacityReservationStatus-C-000-C": "composite parent of CapacityReservationStatus-C-004-C",
    "CostAndUsage-D-002-M": "composite of every column rule (fails when any listed child fails)",
    "CostAndUsage-D-000-M": "composite root of the dataset (fails when any child fails)",
}


class FocusValidatorUnavailable(RuntimeError):
    """No Python >= 3.12 interpreter is available to install focus-validator 2.x into."""


@dataclass(frozen=True, slots=True)
class Measured:
    """A finished subprocess: exit code, wall seconds, peak RSS (KiB) and its captured output."""

    returncode: int
    seconds: float
    max_rss_kib: int
    stdout: str
    stderr: str


@dataclass(frozen=True, slots=True)
class FocusValidatorResult:
    """The parsed verdict of one focus-validator run."""

    available: bool
    reason: str = ""
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    failed_rules: tuple[str, ...] = ()
    allowlisted: tuple[str, ...] = ()
    real_failures: tuple[str, ...] = ()
    messages: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    max_rss_kib: int = 0

    @property
    def ok(self) -> bool:
        """True when the validator ran and only known validator bugs failed."""
        return self.available and not self.real_failures

    def summary(self) -> str:
        """One line, like the shell wrapper in the background notes."""
        if not self.available:
            return f"focus-validator unavailable: {self.reason}"
        text = (
            f"tests={self.tests} failures={self.failures} errors={self.errors} skipped={self.skipped} "
            f"allowlisted={len(self.allowlisted)} real_failures={len(self.real_failures)}"
        )
        for rule in self.real_failures:
            text += f"\nFAIL {rule}: {self.messages.get(rule, '')}"
        return text


def cache_dir() -> Path:
    """Where the validator's virtualenv and run directory live."""
    root = os.environ.get("FOCUSBASE_FV_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "focusbase"


def _runs(python: str) -> bool:
    try:
        done = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2] >= (3, 12))"],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == "True"


def find_python312() -> str | None:
    """A working Python 3.12 interpreter: $FOCUSBASE_PYTHON312, python3.12 on PATH, or a pyenv install."""
    candidates = [os.environ.get("FOCUSBASE_PYTHON312", "")]
    candidates.append(shutil.which("python3.12") or "")
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/3.12*/bin/python3.12"), reverse=True)
    candidates += ["/usr/bin/python3.12", "/usr/local/bin/python3.12"]
    for candidate in candidates:
        if candidate and _runs(candidate):
            return candidate
    return None


def _installed_version(venv: Path) -> str | None:
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('focus-validator'))"],
        capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_focus_validator() -> Path:
    """Create (once) the cached Python 3.12 venv with focus-validator 2.2.1; return the run directory."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    venv, run_dir = root / "fv-venv", root / "fv-run"
    currency = run_dir / "focus_validator" / "rules" / "currency_codes.csv"
    with (root / "fv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # tests and benchmarks may install at the same time
        if _installed_version(venv) != FV_VERSION:
            python = find_python312()
            if python is None:
                raise FocusValidatorUnavailable(
                    "focus-validator 2.x needs Python >= 3.12 and no python3.12 was found "
                    "(set FOCUSBASE_PYTHON312 to its path)"
                )
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True)
            pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *FV_REQUIREMENTS],
                                 capture_output=True, text=True)  # fmt: skip
            if pip.returncode != 0 or _installed_version(venv) != FV_VERSION:
                shutil.rmtree(venv, ignore_errors=True)
                raise RuntimeError(f"installing {' '.join(FV_REQUIREMENTS)} failed:\n{pip.stderr[-2000:]}")
        if not currency.exists():
            # Work around the validator opening its currency list relative to the working directory.
            locate = subprocess.run(
                [str(venv / "bin" / "python"), "-c",
                 "import focus_validator, os; print(os.path.dirname(focus_validator.__file__))"],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            currency.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(locate.stdout.strip()) / "rules" / "currency_codes.csv", currency)
    return run_dir


def run_measured(
    cmd: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Measured:
    """Run a command to completion; report its wall time and its own peak RSS (from wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env) if env is not None else None, stdout=out,
                                stderr=err)  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, seconds, int(usage.ru_maxrss), out.read().decode(errors="replace"),
                        err.read().decode(errors="replace"))  # fmt: skip


def parse_junit(path: Path, allow: Mapping[str, str] = KNOWN_VALIDATOR_BUGS) -> FocusValidatorResult:
    """Read focus-validator's JUnit report: counts, failing rule ids and the failures left after `allow`."""
    root = ET.parse(path).getroot()
    failed: list[str] = []
    messages: dict[str, str] = {}
    for case in root.iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        rule = (case.get("name") or "").split(" :: ")[0]
        failed.append(rule)
        messages[rule] = problem.get("message") or ""
    real = tuple(r for r in failed if r not in allow)
    return FocusValidatorResult(
        available=True,
        tests=int(root.get("tests") or 0),
        failures=int(root.get("failures") or 0),
        errors=int(root.get("errors") or 0),
        skipped=int(root.get("skipped") or 0),
        failed_rules=tuple(failed),
        allowlisted=tuple(r for r in failed if r in allow),
        real_failures=real,
        messages=messages,
    )


def validator_command(data_file: Path, report: Path, extra_args: Sequence[str] = ()) -> list[str]:
    """The exact focus-validator command line used (FOCUS 1.2 model bundled with the wheel, offline)."""
    exe = cache_dir() / "fv-venv" / "bin" / "focus-validator"
    return [str(exe), "--data-file", str(data_file.resolve()), "--validate-version", "1.2",
            "--block-download", "--output-type", "unittest", "--output-destination", str(report),
            *extra_args]  # fmt: skip


def run_focus_validator(
    data_file: Path, *, allow: Mapping[str, str] = KNOWN_VALIDATOR_BUGS, extra_args: Sequence[str] = ()
) -> FocusValidatorResult:
    """Validate a .csv or .parquet file as FOCUS 1.2 with focus-validator 2.2.1 and parse the result."""
    if data_file.suffix not in (".csv", ".parquet"):
        raise ValueError("focus-validator reads only .csv and .parquet files (chosen by extension)")
    try:
        run_dir = ensure_focus_validator()
    except FocusValidatorUnavailable as exc:
        return FocusValidatorResult(available=False, reason=str(exc))
    with tempfile.TemporaryDirectory(prefix="fv-report-") as tmp:
        report = Path(tmp) / "report.junit.xml"
        done = run_measured(validator_command(data_file, report, extra_args), cwd=run_dir)
        if done.returncode != 0 or not report.exists():
            raise RuntimeError(
                f"focus-validator exited {done.returncode} without a report:\n"
                + (done.stderr or done.stdout)[-3000:]
            )
        result = parse_junit(report, allow)
    return FocusValidatorResult(
        available=True, tests=result.tests, failures=result.failures, errors=result.errors,
        skipped=result.skipped, failed_rules=result.failed_rules, allowlisted=result.allowlisted,
        real_failures=result.real_failures, messages=result.messages, seconds=done.seconds,
        max_rss_kib=done.max_rss_kib,
    )  # fmt: skip


if __name__ == "__main__":
    import sys

    verdict = run_focus_validator(Path(sys.argv[1]))
    print(verdict.summary())
    sys.exit(0 if verdict.ok else 1)
