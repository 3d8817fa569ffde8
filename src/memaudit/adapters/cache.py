"""Caching as a wrapper around any backend: every response is stored on disk (SQLite) under a
stable hash of (model fingerprint, request), committed batch by batch, so a killed run resumes."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import ModelAdapter, ScoreResult, generate_from, optional


def request_key(fingerprint: str, kind: str, payload: Any) -> str:
    blob = json.dumps([fingerprint, kind, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class CachedAdapter:
    def __init__(self, backend: ModelAdapter, path: Path) -> None:
        self.backend = backend
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.db.commit()
        self.hits = self.misses = 0
        self._fp = backend.fingerprint()
        # responses are keyed by the model and by how its numbers were computed (device, dtype, sampler)
        self._key_fp = "|".join(filter(None, [self._fp, optional(backend, "numerics")()]))

    def capabilities(self) -> frozenset[str]:
        return self.backend.capabilities()

    def fingerprint(self) -> str:
        return self._fp

    def _cached(
        self,
        kind: str,
        payloads: Sequence[Any],
        compute: Callable[[list[int]], list[Any]],
        encode: Callable[[Any], str],
        decode: Callable[[str], Any],
    ) -> list[Any]:
        keys = [request_key(self._key_fp, kind, p) for p in payloads]
        found: dict[str, str] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self.db.execute(
                f"SELECT key, value FROM responses WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )
            found.update(rows.fetchall())
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            values = compute(missing)
            encoded = [encode(v) for v in values]
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO responses VALUES (?, ?)",
                    [(keys[i], e) for i, e in zip(missing, encoded)],
                )
            found.update((keys[i], e) for i, e in zip(missing, encoded))
        return [decode(found[k]) for k in keys]

    def generate(
        self,
        prompts: Sequence[Sequence[str]],
        n_samples: int,
        max_new_codes: int,
        temperature: float,
        top_p: float,
        seed: int,
        first_sample: int = 0,
    ) -> list[list[list[str]]]:
        params = [n_samples, max_new_codes, temperature, top_p, seed] + (
            [first_sample] if first_sample else []
        )
        return self._cached(
            "generate",
            [[list(p), params] for p in prompts],
            lambda idx: generate_from(
                self.backend,
                [prompts[i] for i in idx],
                n_samples,
                max_new_codes,
                temperature,
                top_p,
                seed,
                first_sample,
            ),
            json.dumps,
            json.loads,
        )

    def score(self, sequences: Sequence[Sequence[str]]) -> list[ScoreResult]:
        return self._cached(
            "score",
            [list(s) for s in sequences],
            lambda idx: self.backend.score([sequences[i] for i in idx]),
            lambda r: json.dumps([r.logprobs.tolist(), r.mean.tolist(), r.std.tolist()]),
            lambda t: ScoreResult(*(np.asarray(x, float) for x in json.loads(t))),
        )

    def embed(self, sequences: Sequence[Sequence[str]]) -> np.ndarray:
        rows = self._cached(
            "embed",
            [list(s) for s in sequences],
            lambda idx: list(self.backend.embed([sequences[i] for i in idx])),
            lambda v: json.dumps(np.asarray(v, float).tolist()),
            lambda t: np.asarray(json.loads(t), float),
        )
        return np.vstack(rows) if rows else np.zeros((0, 0))

    def close(self) -> None:
        self.db.close()
