"""Subjects appear in outputs only as salted hashes; the salt stays in the run directory."""

from __future__ import annotations

import hashlib


def subject_hash(salt: str, subject_id: int) -> str:
    """16 hex digits of sha256(salt:subject_id): stable within a run, unlinkable without the salt."""
    return hashlib.sha256(f"{salt}:{int(subject_id)}".encode()).hexdigest()[:16]
