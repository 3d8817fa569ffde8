"""Subjects appear in outputs only as salted hashes; the salt stays in the run dir."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from ..atomic import write_text

SALT_FILE = "salt.secret"


def load_or_create_salt(run_dir: Path) -> str:
    path = Path(run_dir) / SALT_FILE
    if path.exists():
        return path.read_text().strip()
    salt = secrets.token_hex(16)
    write_text(path, salt + "\n")
    return salt


def subject_hash(salt: str, subject_id: int) -> str:
    return hashlib.sha256(f"{salt}:{int(subject_id)}".encode()).hexdigest()[:16]
