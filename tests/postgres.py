"""A throw-away PostgreSQL server for tests: initdb into a temporary directory, start it on a Unix socket.

Uses the PostgreSQL binaries on PATH, or Debian's /usr/lib/postgresql/<version>/bin (postgresql-15 here).
initdb and postgres refuse to run as root, so as root the server runs as the unprivileged `postgres` user
(Debian's package creates it) through `runuser`; its directory is made for that user. The server listens on
a Unix socket only (listen_addresses=''), so no TCP port can clash, with fsync off: the data is disposable.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVER_USER = "postgres"
DB_USER = "focusbase"


def binary(name: str) -> str | None:
    """A PostgreSQL program: from PATH, else the newest Debian /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for folder in versions:
        if (folder / name).exists():
            return str(folder / name)
    return None


def unavailable_reason() -> str | None:
    """Why a throw-away server cannot be started here, or None when it can."""
    if binary("initdb") is None or binary("pg_ctl") is None:
        return "PostgreSQL is not installed (apt-get install postgresql-15)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def _run(args: list[str], *, as_user: str | None) -> None:
    command = ["runuser", "-u", as_user, "--", *args] if as_user else args
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stdout}{done.stderr}")


@contextmanager
def throwaway_server(port: int = 5432) -> Iterator[str]:
    """Start a fresh cluster; yield the URL of its `postgres` database as superuser DB_USER; stop it after.

    `port` only names the socket file (.s.PGSQL.<port>) in the cluster's own directory.
    """
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    initdb, pg_ctl = binary("initdb"), binary("pg_ctl")
    assert initdb and pg_ctl
    as_user = SERVER_USER if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="focusbase-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if as_user:
        entry = pwd.getpwnam(as_user)
        for path in (root, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    root.chmod(0o700)
    started = False
    try:
        _run(
            [initdb, "-D", str(data), "-U", DB_USER, "--auth=trust", "-E", "UTF8", "--no-locale", "-N"],
            as_user=as_user,
        )
        options = (
            f"-p {port} -k {sockets} -c listen_addresses='' -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=200"
        )
        _run(
            [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"],
            as_user=as_user,
        )
        started = True
        yield f"postgresql://{DB_USER}@/postgres?host={sockets}&port={port}"
    finally:
        if started:
            _run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], as_user=as_user)
        shutil.rmtree(root, ignore_errors=True)
