"""Content hashes of input files (data shards, model weights, generation files)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def hash_files(paths: Iterable[Path]) -> str:
    """sha256 over each file's name and bytes, in name order, read in 1 MiB blocks."""
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]
