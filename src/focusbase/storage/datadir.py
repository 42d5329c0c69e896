"""The data directory's permissions: only the server's own user may read cost data, keys and secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# Files the process creates from now on (write-ahead logs, spill files, export files, uploads) get no
# group or other permissions whatever the caller's umask was.
PRIVATE_UMASK = 0o077


def secure_data_dir(path: Path, *, deep: bool = True) -> None:
    """Create the directory (0700) if needed, make it and what it holds private, and keep new files so.

    `deep=False` looks only at the directory's own files (the databases), not at export files and uploads.
    """
    os.umask(PRIVATE_UMASK | os.umask(PRIVATE_UMASK))
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _restrict(path, DIR_MODE)
    if not deep:
        for entry in path.iterdir():
            if entry.is_file():
                _restrict(entry, FILE_MODE)
        return
    for root, dirs, files in os.walk(path):
        for name in dirs:
            _restrict(Path(root) / name, DIR_MODE)
        for name in files:
            _restrict(Path(root) / name, FILE_MODE)


def _restrict(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.lstat().st_mode)
        if not path.is_symlink() and current & ~mode:
            path.chmod(current & mode)
    except FileNotFoundError:
        pass  # removed meanwhile (an expired export, a finished upload)
