"""One run at a time per run directory: a second one is refused, not interleaved."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import UserInputError


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    path = Path(run_dir) / ".lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserInputError("a run directory no other memaudit run is using", f"{run_dir} is locked by a running audit",
                                 "wait for that run to finish, or choose another --out") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process is killed
