"""`generations` backend: precomputed samples for models reachable only through an API.

`memaudit prompts` exports exactly the generation requests of an audit; the user runs them
elsewhere and returns one row per sample (subject_id, tier, prompt_hash, sample_index, codes).
Only `generate` is offered, so tests needing scores or embeddings are reported skipped."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import polars as pl

from ..errors import UserInputError
from ..fingerprint import hash_files
from .base import GENERATE

COLUMNS = {"prompt_hash": pl.String, "sample_index": pl.Int64, "codes": pl.List(pl.String)}


def prompt_hash(prompt: Sequence[str], n_samples: int, max_new_codes: int, temperature: float, top_p: float) -> str:
    blob = json.dumps([list(prompt), n_samples, max_new_codes, float(temperature), float(top_p)], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class GenerationsAdapter:
    adaptive = False  # answers only the exported prompts: T5's perturbed prompts cannot be asked

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            df = pl.read_parquet(self.path)
        except Exception as e:
            raise UserInputError("a readable generations parquet", f"{self.path}: {str(e).splitlines()[0][:200]}",
                                 "write the samples with columns subject_id, tier, prompt_hash, sample_index, codes") from None
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise UserInputError("generations columns prompt_hash, sample_index, codes (list of strings)",
                                 f"{self.path} lacking {missing}", "add the columns; see `memaudit prompts`")
        self.samples: dict[str, dict[int, list[str]]] = {}
        for h, i, codes in df.select(list(COLUMNS)).iter_rows():
            self.samples.setdefault(h, {})[int(i)] = list(codes or [])
        self._fp = hash_files([self.path])

    def capabilities(self) -> frozenset[str]:
        return frozenset({GENERATE})

    def fingerprint(self) -> str:
        return self._fp

    def generate(self, prompts: Sequence[Sequence[str]], n_samples: int, max_new_codes: int,
                 temperature: float, top_p: float, seed: int) -> list[list[list[str]]]:
        out, missing = [], 0
        for p in prompts:
            got = self.samples.get(prompt_hash(p, n_samples, max_new_codes, temperature, top_p), {})
            if len(got) < n_samples:
                missing += 1
                continue
            out.append([got[j][:max_new_codes] for j in sorted(got)[:n_samples]])
        if missing:
            raise UserInputError(f"samples for every exported prompt ({n_samples} each)", f"{missing} prompts without them",
                                 "export with `memaudit prompts` using the same config, and generate every row")
        return out
