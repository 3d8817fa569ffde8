"""The run directory: created once, locked for one run at a time, holding the salt of the subject
hashes, the response caches and the outputs, each written atomically. Every operating-system error
on the way (no permission, a file where a directory should be, a full disk) becomes one
`UserInputError` that says what to fix."""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .atomic import atomic_path, write_json, write_text
from .errors import UserInputError

SALT_FILE = "salt.secret"
LOCK_FILE = ".lock"
CACHE_FILE = "cache.sqlite"
REFERENCE_CACHE_FILE = "cache_reference.sqlite"

WRITE_ERRNOS = (
    errno.ENOSPC,
    errno.EACCES,
    errno.EROFS,
    errno.EDQUOT,
    errno.EPERM,
    errno.EFBIG,
    errno.ENOTDIR,
    errno.EEXIST,
    errno.ENOENT,
    errno.EISDIR,
)


def write_error(e: OSError, where: Path | str | None = None) -> UserInputError | None:
    """The one-line message for an OS error met while writing outputs, or None for other errors."""
    if e.errno not in WRITE_ERRNOS:
        return None
    return UserInputError(
        "room and permission to write the outputs",
        f"{e.strerror} at {e.filename or where or '?'}",
        "free disk space, or choose an --out directory you can write to",
    )


def writable_location(path: Path) -> Path:
    """Refuse an output location that cannot be written before any work starts."""
    path = Path(path)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UserInputError(
            "a writable output location",
            f"{path} (cannot write under {probe})",
            "choose an --out directory you can write to",
        )
    return path


class RunDir:
    """An opened, locked run directory (use `RunDir.open`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    @contextmanager
    def open(cls, path: Path | str) -> Iterator[RunDir]:
        """Create the directory if needed and hold its lock until the block ends; a second run
        into a locked directory is refused, not interleaved. The lock is released when the
        process dies, so a killed run can be resumed."""
        run = cls(writable_location(Path(path)))
        try:
            run.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(run.path / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as e:
            raise write_error(e, run.path) or e from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserInputError(
                    "a run directory no other memaudit run is using",
                    f"{run.path} is locked by a running audit",
                    "wait for that run to finish, or choose another --out",
                ) from None
            yield run
        finally:
            os.close(fd)

    @property
    def cache(self) -> Path:
        """The responses of the audited model; it holds prompts, so treat it as PHI."""
        return self.path / CACHE_FILE

    @property
    def reference_cache(self) -> Path:
        return self.path / REFERENCE_CACHE_FILE

    def salt(self) -> str:
        """The secret salt of this run's subject hashes, created on first use; it never leaves
        the run directory."""
        path = self.path / SALT_FILE
        if path.exists():
            return path.read_text().strip()
        salt = secrets.token_hex(16)
        self._guard(lambda: write_text(path, salt + "\n"))
        return salt

    def write_json(self, name: str, obj: Any) -> None:
        self._guard(lambda: write_json(self.path / name, obj))

    def write_text(self, name: str, text: str) -> None:
        self._guard(lambda: write_text(self.path / name, text))

    def write_parquet(self, name: str, frame: Any) -> None:
        """A polars DataFrame, written atomically."""

        def write() -> None:
            with atomic_path(self.path / name) as tmp:
                frame.write_parquet(tmp)

        self._guard(write)

    def _guard(self, write: Any) -> None:
        try:
            write()
        except OSError as e:
            raise write_error(e, self.path) or e from None
