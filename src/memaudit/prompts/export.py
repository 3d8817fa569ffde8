"""`memaudit prompts`: an audit's generation requests as a table, for a model that runs elsewhere.

The file holds the prompts' codes and subject ids: it is for the user's own systems and is as
sensitive as the cohort."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from ..atomic import atomic_path
from .requests import Generate, prompt_hash

SCHEMA = {
    "subject_id": pl.Int64,
    "tier": pl.String,
    "kind": pl.String,
    "prompt_hash": pl.String,
    "prompt": pl.List(pl.String),
    "n_samples": pl.Int64,
    "max_new_codes": pl.Int64,
    "temperature": pl.Float64,
    "top_p": pl.Float64,
    "seed": pl.Int64,
}


def write_prompt_table(rows: Iterable[tuple[int, str, str, Generate]], out: Path) -> int:
    """One row per (subject, tier, kind, request); returns the number of distinct prompts."""
    records = [
        {
            "subject_id": sid,
            "tier": tier,
            "kind": kind,
            "prompt_hash": prompt_hash(r.prompt, r.n_samples, r.max_new_codes, r.temperature, r.top_p),
            "prompt": list(r.prompt),
            "n_samples": r.n_samples,
            "max_new_codes": r.max_new_codes,
            "temperature": r.temperature,
            "top_p": r.top_p,
            "seed": r.seed,
        }
        for sid, tier, kind, r in rows
    ]
    df = pl.DataFrame(records, schema=SCHEMA)
    with atomic_path(Path(out)) as tmp:
        df.write_parquet(tmp)
    return df["prompt_hash"].n_unique()
