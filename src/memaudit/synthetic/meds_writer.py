"""Writing the synthetic cohort as MEDS: the `meds` package's schemas, validated as written."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import meds
import pyarrow as pa
import pyarrow.parquet as pq

from ..version import __version__
from . import clinical

DATA_SCHEMA = pa.schema(
    [
        ("subject_id", pa.int64()),
        ("time", pa.timestamp("us")),
        ("code", pa.string()),
        ("numeric_value", pa.float32()),
    ]
)


def validate_table(table: pa.Table) -> None:
    """Raise unless `table` conforms to the `meds` package's data schema."""
    meds.DataSchema.validate(table)


def write_metadata(
    root: Path,
    codes: Sequence[str],
    split_rows: Sequence[tuple[int, str]],
    dataset_name: str,
    extra: dict | None = None,
) -> None:
    meta = root / Path(meds.subject_splits_filepath).parent
    meta.mkdir(parents=True, exist_ok=True)
    dataset = {
        "dataset_name": dataset_name,
        "dataset_version": __version__,
        "etl_name": "memaudit synth",
        "etl_version": __version__,
        "meds_version": _meds_version(),
        "created_at": datetime.now(UTC).isoformat(),
    }
    if extra:
        dataset["other_extension_columns"] = []
        dataset["memaudit"] = extra
    (root / meds.dataset_metadata_filepath).write_text(json.dumps(dataset, indent=2))
    code_table = pa.table(
        {
            "code": pa.array(list(codes), pa.string()),
            "description": pa.array([describe(c) for c in codes], pa.string()),
            "parent_codes": pa.array([_parents(c) for c in codes], pa.list_(pa.string())),
        }
    )
    meds.CodeMetadataSchema.validate(code_table)
    pq.write_table(code_table, root / meds.code_metadata_filepath)
    split_table = pa.table(
        {
            "subject_id": pa.array([r[0] for r in split_rows], pa.int64()),
            "split": pa.array([r[1] for r in split_rows], pa.string()),
        }
    )
    meds.SubjectSplitSchema.validate(split_table)
    pq.write_table(split_table, root / meds.subject_splits_filepath)


def describe(code: str) -> str | None:
    """A code's description in either style (memaudit's own, or MIMIC-IV MEDS)."""
    from . import mimic

    if code.startswith(("DIAGNOSIS//ICD//", "LAB//5")) or code.startswith("MEDICATION//START//"):
        return mimic.describe(code)
    return clinical.describe(code)


def _parents(code: str) -> list[str] | None:
    if code.startswith(("DIAGNOSIS//ICD//10//", "DIAGNOSIS//ICD//9//")):
        version, raw = code.split("//")[2:4]
        return [f"ICD{version}CM/{raw}"]
    if not code.startswith("DIAGNOSIS//ICD10CM//"):
        return None
    import simple_icd_10_cm as icd

    c = code.rsplit("//", 1)[-1]
    if not icd.is_valid_item(c):
        return None
    parent = icd.get_parent(c)
    return [f"DIAGNOSIS//ICD10CM//{parent}"] if parent and not icd.is_chapter_or_block(parent) else None


def _meds_version() -> str:
    from importlib.metadata import version

    return version("meds")
