"""`generations` backend: precomputed samples for models reachable only through an API.

`memaudit prompts` exports exactly the generation requests of an audit; the user runs them
elsewhere and returns one row per sample (subject_id, tier, prompt_hash, sample_index, codes).
Only `generate` is offered, so tests needing scores or embeddings are reported skipped."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from ..errors import UserInputError
from ..fingerprint import hash_files
from ..prompts.requests import prompt_hash
from ..tables import first_line
from .base import GENERATE, AdapterBase

COLUMNS = {"prompt_hash": pl.String, "sample_index": pl.Int64, "codes": pl.List(pl.String)}


class GenerationsAdapter(AdapterBase):
    adaptive = False  # answers only the exported prompts: audits that ask new prompts are skipped

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            df = pl.read_parquet(self.path)
        except Exception as e:
            raise UserInputError(
                "a readable generations parquet",
                f"{self.path}: {first_line(e)}",
                "write the samples with columns subject_id, tier, prompt_hash, sample_index, codes",
            ) from None
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise UserInputError(
                "generations columns prompt_hash, sample_index, codes (list of strings)",
                f"{self.path} lacking {missing}",
                "add the columns; see `memaudit prompts`",
            )
        self.samples: dict[str, dict[int, list[str]]] = {}
        for h, i, codes in df.select(list(COLUMNS)).iter_rows():
            self.samples.setdefault(h, {})[int(i)] = list(codes or [])
        self._fp = hash_files([self.path])

    def capabilities(self) -> frozenset[str]:
        return frozenset({GENERATE})

    def fingerprint(self) -> str:
        return self._fp

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
        out, missing = [], 0
        for p in prompts:
            got = self.samples.get(prompt_hash(p, n_samples, max_new_codes, temperature, top_p), {})
            wanted = range(first_sample, first_sample + n_samples)
            if any(j not in got for j in wanted):
                missing += 1
                continue
            out.append([got[j][:max_new_codes] for j in wanted])
        if missing:
            raise UserInputError(
                f"samples for every exported prompt ({n_samples} each)",
                f"{missing} prompts without them",
                "export with `memaudit prompts` using the same config, and generate every row",
            )
        return out
