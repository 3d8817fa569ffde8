"""Reading a small table a user hands the audit (a vocabulary, a code list, the members a reference
model did not see), and turning a reader's failure into one line: polars raises many error types
for an unreadable file, and their messages run over many lines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UserInputError

if TYPE_CHECKING:
    import polars as pl


def first_line(error: BaseException) -> str:
    """The first line of an error's message (at most 200 characters), or its type when it has none."""
    lines = str(error).splitlines()
    return lines[0][:200] if lines else type(error).__name__


def read_table(path: Path, expected: str, fix: str, columns: Sequence[str] = ()) -> pl.DataFrame:
    """`path` as a frame: parquet when it ends in .parquet, else CSV. A file that cannot be read,
    or lacks one of `columns`, is a UserInputError saying `expected`, what the file held, and `fix`."""
    import polars as pl  # not at import time: the CLI's start-up does not need it

    path = Path(path)
    try:
        frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)
    except Exception as e:  # polars raises several types for unreadable files
        raise UserInputError(expected, f"{path}: {first_line(e)}", fix) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserInputError(expected, f"{path} lacking columns {missing} (has {frame.columns})", fix)
    return frame
