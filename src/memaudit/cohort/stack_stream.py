"""Streams a model's own pipeline wrote: each subject's tokens as the stack built them.

Some stacks build their stream with a pipeline too rich to restate as a row recipe (CEHR-GPT:
demographic prompt, visits with their type, day-gap tokens, collapsed repeats, unknown codes
dropped). Their streams are read as written, from a parquet with one row per subject:

    subject_id: int64   codes: list[str]   days: list[float64]   header: int64

`days`: each token's time in days since the subject's first token; `header`: how many leading
tokens are the demographic prompt (the attacker's static knowledge). Subjects missing from the
table are not in the model's stream (the stack dropped them) and are not audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl

from ..errors import UserInputError
from ..tables import first_line

COLUMNS = {
    "subject_id": pl.Int64,
    "codes": pl.List(pl.String),
    "days": pl.List(pl.Float64),
    "header": pl.Int64,
}


def read_stack_streams(
    path: Path, subject_ids: Iterable[int]
) -> dict[int, tuple[list[str], np.ndarray, int]]:
    """subject → (codes, days, header) for the `subject_ids` the table holds."""
    expected = "cohort.stream_table: a parquet with subject_id, codes, days, header"
    try:
        schema = pl.read_parquet_schema(path)
    except Exception as e:  # polars raises several types for missing or unreadable files
        raise UserInputError(
            expected, f"{path}: {first_line(e)}", "write it with memaudit import-cehrgpt"
        ) from None
    missing = [c for c in COLUMNS if c not in schema]
    if missing:
        raise UserInputError(expected, f"{path} without {', '.join(missing)}", "rewrite the stream table")
    ids = pl.Series(sorted(set(int(i) for i in subject_ids)), dtype=pl.Int64)
    frame = (
        pl.scan_parquet(path)
        .select(pl.col(c).cast(t) for c, t in COLUMNS.items())
        .filter(pl.col("subject_id").is_in(ids.implode()))
        .collect()
    )
    out = {}
    for sid, codes, days, header in frame.iter_rows():
        if len(codes) != len(days):
            raise UserInputError(
                "as many days as codes per subject in cohort.stream_table",
                f"{len(codes)} codes and {len(days)} days for one subject",
                "rewrite the stream table",
            )
        out[int(sid)] = (list(codes), np.asarray(days, dtype=np.float64), int(header))
    return out
