"""Reading a MEDS dataset: splits, timelines of chosen subjects, code prevalence.

Reads are lazy polars scans filtered to the subjects asked for, so memory follows the audit
sample, not the cohort.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import meds
import numpy as np
import polars as pl

from ..errors import UserInputError
from ..tables import first_line
from .stack_stream import read_stack_streams
from .stream import US_PER_DAY, StreamRecipe, build_stream

REQUIRED = {"subject_id": pl.Int64, "time": pl.Datetime, "code": pl.String}


@dataclass(frozen=True)
class CohortFacts:
    """What the MEDS rows say about a patient, whatever the model's stream keeps of them.

    `age_at_start`: years from the birth row (`meds.birth_code`, or the stream recipe's birth code)
    to the first other timed event; None without a birth row. `static_codes`: the codes of the
    static rows (time = null) as the data holds them (sex, race...). Subgroups (T6) and the report's
    reasons (T5's perturbation families) read these, so a stream that drops static and birth rows
    still has elderly patients."""

    age_at_start: float | None = None
    static_codes: tuple[str, ...] = ()


def cohort_facts(times_us: list[int | None], codes: list[str], birth_code: str) -> CohortFacts:
    """One subject's facts from its raw rows (in MEDS order)."""
    births = [t for t, c in zip(times_us, codes) if c == birth_code and t is not None]
    later = [t for t, c in zip(times_us, codes) if c != birth_code and t is not None]
    age = (later[0] - births[0]) / US_PER_DAY / 365.25 if births and later else None
    return CohortFacts(age, tuple(c for t, c in zip(times_us, codes) if t is None))


@dataclass(frozen=True)
class Timeline:
    """One subject's codes in time order and each code's time in days since the first timed event.

    The first `static` codes came from static rows (time = null); the first `header` codes
    (static rows plus a derived age, see cohort/stream.py) are demographics by construction.
    `facts`: what the MEDS rows say of the patient, kept even where the stream drops it."""

    codes: tuple[str, ...]
    days: np.ndarray
    static: int = 0
    header: int = 0
    facts: CohortFacts = CohortFacts()

    def __len__(self) -> int:
        return len(self.codes)

    def subset(self, keep: list[int]) -> Timeline:
        """The timeline with only the codes at positions `keep` (ascending)."""
        idx = np.asarray(keep, dtype=int)
        return Timeline(
            tuple(self.codes[i] for i in keep),
            self.days[idx],
            sum(i < self.static for i in keep),
            sum(i < self.header for i in keep),
            self.facts,
        )

    def without_static(self) -> Timeline:
        """The timeline as a stack that drops static rows from its token stream sees it."""
        return Timeline(
            self.codes[self.static :], self.days[self.static :], 0, self.header - self.static, self.facts
        )


class MedsDataset:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        require_meds_root(self.root)
        self.files = sorted((self.root / meds.data_subdirectory).rglob("*.parquet"))
        if not self.files:
            raise UserInputError(
                "parquet shards under data/",
                f"none in {self.root / meds.data_subdirectory}",
                "write the MEDS data shards as data/<split>/<n>.parquet",
            )
        self._check_schema()

    def _check_schema(self) -> None:
        for f in self.files:
            try:
                schema = pl.read_parquet_schema(f)
            except Exception as e:  # polars raises several types for unreadable files
                raise UserInputError(
                    "readable parquet files",
                    f"{f}: {first_line(e)}",
                    "re-export the shard; it is corrupt or truncated",
                ) from None
            for col, dtype in REQUIRED.items():
                if col not in schema:
                    raise UserInputError(
                        f"MEDS column '{col}'",
                        f"{f} with columns {list(schema)}",
                        "export the data with the MEDS columns subject_id, time, code",
                    )
                if not isinstance(schema[col], dtype) and schema[col] != dtype:
                    raise UserInputError(
                        f"column '{col}' of type {dtype}",
                        f"{schema[col]} in {f}",
                        f"cast '{col}' to {dtype} when writing the shard",
                    )

    def _scan(self) -> pl.LazyFrame:
        return pl.scan_parquet(self.files).select("subject_id", "time", "code")

    def rows(self, subject_ids: Iterable[int]) -> pl.LazyFrame:
        """The (subject_id, time, code) rows of `subject_ids`, lazily."""
        ids = pl.Series(sorted(set(int(i) for i in subject_ids)), dtype=pl.Int64)
        return self._scan().filter(pl.col("subject_id").is_in(ids.implode()))

    def _scan_with_values(self) -> pl.LazyFrame:
        if all("numeric_value" in pl.read_parquet_schema(f) for f in self.files):
            value = pl.col("numeric_value").cast(pl.Float64)
        else:
            value = pl.lit(None, dtype=pl.Float64).alias("numeric_value")
        return pl.scan_parquet(self.files).select("subject_id", "time", "code", value)

    @property
    def splits_from_folders(self) -> bool:
        """True when the dataset has no metadata/subject_splits.parquet and its splits are the
        folders of data/ (data/train/*.parquet), as in intermediate outputs of MEDS pipelines."""
        return not (self.root / meds.subject_splits_filepath).exists()

    def subject_splits(self) -> pl.DataFrame:
        if self.splits_from_folders:
            return self._folder_splits()
        path = self.root / meds.subject_splits_filepath
        try:
            df = pl.read_parquet(path)
        except Exception as e:
            raise UserInputError(
                "a readable metadata/subject_splits.parquet",
                f"{first_line(e)}",
                "rewrite the splits file",
            ) from None
        if set(df.columns) < {"subject_id", "split"}:
            raise UserInputError(
                "subject_splits.parquet with columns subject_id, split",
                str(df.columns),
                "write subject_splits.parquet per the MEDS schema",
            )
        return df.select(pl.col("subject_id").cast(pl.Int64), pl.col("split").cast(pl.String))

    def _folder_splits(self) -> pl.DataFrame:
        data = self.root / meds.data_subdirectory
        frames = [
            pl.scan_parquet(f)
            .select("subject_id")
            .unique()
            .with_columns(pl.lit(f.parent.name).alias("split"))
            for f in self.files
            if f.parent != data
        ]
        if not frames:
            raise UserInputError(
                "metadata/subject_splits.parquet, or shards in data/<split>/ folders",
                f"neither in {self.root}",
                "write metadata/subject_splits.parquet (MEDS) or put each split's shards in its own folder",
            )
        return pl.concat(frames).unique().collect().sort("subject_id")

    def code_table(self) -> pl.DataFrame | None:
        """metadata/codes.parquet (code, description, ...), or None when the dataset has none."""
        path = self.root / meds.code_metadata_filepath
        if not path.exists():
            return None
        try:
            return pl.read_parquet(path)
        except Exception as e:  # polars raises several types for unreadable files
            raise UserInputError(
                "a readable metadata/codes.parquet",
                f"{first_line(e)}",
                "rewrite the codes table",
            ) from None

    def stream_code_subjects(
        self, subject_ids: Iterable[int], recipe: StreamRecipe | None = None, chunk: int = 5000
    ) -> dict[str, int]:
        """How many of `subject_ids` have each code in the model's stream (the recipe applied),
        read `chunk` subjects at a time."""
        ids = sorted(set(int(i) for i in subject_ids))
        if recipe is None or recipe.is_identity:
            return self.code_subject_counts(ids)
        counts: dict[str, int] = {}
        if recipe.table is not None:
            for codes, _, _ in read_stack_streams(recipe.table, ids).values():
                for c in set(codes):
                    counts[c] = counts.get(c, 0) + 1
            return counts
        for start in range(0, len(ids), chunk):
            for timeline in self.timelines(ids[start : start + chunk], recipe).values():
                for c in set(timeline.codes):
                    counts[c] = counts.get(c, 0) + 1
        return counts

    def measured_values(
        self, codes: Iterable[str], subject_ids: Iterable[int]
    ) -> dict[str, dict[float, int]]:
        """For each of `codes`, each numeric value `subject_ids` measured and how many of them did."""
        codes = sorted(set(codes))
        if not codes or not all("numeric_value" in pl.read_parquet_schema(f) for f in self.files):
            return {}
        ids = pl.Series(sorted(set(int(i) for i in subject_ids)), dtype=pl.Int64)
        rows = (
            pl.scan_parquet(self.files)
            .select("subject_id", "code", pl.col("numeric_value").cast(pl.Float64))
            .filter(pl.col("code").is_in(codes) & pl.col("subject_id").is_in(ids.implode()))
            .drop_nulls("numeric_value")
            .unique()
            .group_by("code", "numeric_value")
            .len()
            .collect()
        )
        out: dict[str, dict[float, int]] = {}
        for code, value, n in rows.iter_rows():
            out.setdefault(code, {})[value] = n
        return out

    def arm_ids(self, split: str) -> np.ndarray:
        splits = self.subject_splits()
        ids = splits.filter(pl.col("split") == split)["subject_id"].to_numpy()
        if ids.size == 0:
            raise UserInputError(
                f"subjects in split '{split}'",
                f"none (splits present: {sorted(splits['split'].unique().to_list())})",
                "set splits.members / splits.non_members to split names that exist",
            )
        return np.sort(ids)

    def timelines(
        self, subject_ids: Iterable[int], recipe: StreamRecipe | None = None
    ) -> dict[int, Timeline]:
        """Each subject's stream: rebuilt from its rows by `recipe`, or read from the stack's own
        streams (`recipe.table`); the cohort's facts (birth, static rows) from the rows either way."""
        if recipe is not None and recipe.table is not None:
            subject_ids = list(subject_ids)
            facts = {s: t.facts for s, t in self.timelines(subject_ids).items()}
            return {
                s: Timeline(tuple(codes), days, 0, header, facts.get(s, CohortFacts()))
                for s, (codes, days, header) in read_stack_streams(recipe.table, subject_ids).items()
            }
        ids = pl.Series("subject_id", sorted(set(int(i) for i in subject_ids)), dtype=pl.Int64)
        scan = self._scan() if recipe is None or recipe.is_identity else self._scan_with_values()
        try:
            df = scan.with_row_index("_row").filter(pl.col("subject_id").is_in(ids.implode())).collect()
        except Exception as e:  # a shard whose footer reads but whose pages do not
            raise UserInputError(
                "readable parquet data pages", first_line(e), "re-export the corrupt shard"
            ) from None
        check_rows(df)
        return timelines_from_frame(df, recipe)

    def code_subject_counts(self, subject_ids: Iterable[int]) -> dict[str, int]:
        """How many of `subject_ids` have each code at least once."""
        ids = pl.Series(sorted(set(int(i) for i in subject_ids)), dtype=pl.Int64)
        counts = (
            self._scan()
            .filter(pl.col("subject_id").is_in(ids.implode()))
            .select("subject_id", "code")
            .unique()
            .group_by("code")
            .len()
            .collect()
        )
        return dict(zip(counts["code"].to_list(), counts["len"].to_list()))

    def code_prevalence(self, subject_ids: Iterable[int] | None = None) -> Mapping[str, float]:
        """Share of subjects (of `subject_ids`, or all) with each code at least once."""
        lf = self._scan()
        if subject_ids is not None:
            ids = pl.Series(sorted(set(int(i) for i in subject_ids)), dtype=pl.Int64)
            lf = lf.filter(pl.col("subject_id").is_in(ids.implode()))
        pairs = lf.select("subject_id", "code").unique()
        n = pairs.select(pl.col("subject_id").n_unique()).collect().item()
        counts = pairs.group_by("code").len().collect()
        return {c: k / max(n, 1) for c, k in zip(counts["code"].to_list(), counts["len"].to_list())}


def require_meds_root(root: Path) -> None:
    """Refuse a directory that is not a MEDS dataset, saying what is missing."""
    root = Path(root)
    if not root.is_dir():
        raise UserInputError(
            "a MEDS dataset directory",
            f"{root} (does not exist)",
            "pass --data pointing at a directory made by `memaudit synth` or a MEDS ETL",
        )
    missing = [p for p in (meds.data_subdirectory,) if not (root / p).exists()]
    no_splits = not missing and not (root / meds.subject_splits_filepath).exists()
    if no_splits and not any(p.is_dir() for p in (root / meds.data_subdirectory).iterdir()):
        missing = [meds.subject_splits_filepath]
    if missing:
        raise UserInputError(
            "a MEDS dataset with data/ and metadata/subject_splits.parquet",
            f"{root} lacking {', '.join(missing)}",
            "point --data at the MEDS root (the folder holding data/ and metadata/)",
        )


def check_rows(df: pl.DataFrame) -> None:
    """MEDS promises rows sorted by time within each subject."""
    if df.is_empty():
        return
    if df["code"].null_count() or df["subject_id"].null_count():
        raise UserInputError(
            "no null subject_id or code",
            f"{df['code'].null_count() + df['subject_id'].null_count()} nulls",
            "drop or fill rows with a null subject_id or code",
        )
    back = df.sort("_row").with_columns(
        (pl.col("time") < pl.col("time").shift(1).over("subject_id")).fill_null(False).alias("_back")
    )
    n_back = int(back["_back"].sum())
    if n_back:
        raise UserInputError(
            "rows sorted by time within each subject (MEDS)",
            f"{n_back} rows earlier than the row before",
            "sort each shard by subject_id, time before writing",
        )
    # repeated (subject, time, code) rows are valid MEDS and part of the stream a model trained on


def timelines_from_frame(df: pl.DataFrame, recipe: StreamRecipe | None = None) -> dict[int, Timeline]:
    """Group rows into timelines; static rows (time = null) first, then a stable sort by time that
    keeps the order of codes sharing a time."""
    if df.is_empty():
        return {}
    recipe = recipe or StreamRecipe()
    df = df.sort(
        ["subject_id", "time", "_row"] if "_row" in df.columns else ["subject_id", "time"],
        nulls_last=False,
        maintain_order=True,
    )
    simple = recipe.is_identity and not df["time"].null_count()
    birth_code = recipe.age.birth_code if recipe.age is not None else meds.birth_code
    out: dict[int, Timeline] = {}
    for (sid,), part in df.group_by(["subject_id"], maintain_order=True):
        raw_codes = part["code"].to_list()
        times = part["time"].dt.epoch("us").to_list()
        facts = cohort_facts(times, raw_codes, birth_code)
        if simple:
            t = part["time"].to_numpy().astype("datetime64[us]").astype(np.int64)
            days = (t - t[0]) / US_PER_DAY if t.size else np.zeros(0)
            out[int(sid)] = Timeline(tuple(raw_codes), days.astype(np.float64), facts=facts)
            continue
        values = part["numeric_value"].to_list() if "numeric_value" in part.columns else [None] * part.height
        codes, days, static, header = build_stream(times, raw_codes, values, recipe)
        out[int(sid)] = Timeline(tuple(codes), days, static, header, facts)
    return out
