"""A real `focusbase serve` process for the benchmarks: free port, start and wait, peak memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on the loopback interface nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_server(
    data_dir: Path, env: dict[str, str] | None = None, log: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `focusbase serve` on a free port with this data directory; return once it accepts connections."""
    port = free_port()
    full_env = {
        **os.environ,
        "FOCUSBASE_DATA_DIR": str(data_dir),
        "FOCUSBASE_PORT": str(port),
        "FOCUSBASE_LOG_LEVEL": "warning",
        **(env or {}),
    }
    command = [sys.executable, "-m", "focusbase", "serve"]
    if log is None:
        process = subprocess.Popen(command, env=full_env)
    else:
        with log.open("ab") as handle:
            process = subprocess.Popen(command, env=full_env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
                raise RuntimeError(f"focusbase serve did not start {tail}") from None
            time.sleep(0.1)
