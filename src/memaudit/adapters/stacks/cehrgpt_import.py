"""`memaudit import-cehrgpt`: an audit directory from what CEHR-GPT's pretraining runner wrote.

The runner (`python -m cehrgpt.runners.hf_cehrgpt_pretrain_runner CONFIG.yaml`, data in MEDS,
`streaming: false`) converts the MEDS cohort with CEHR-GPT's own pipeline and saves the tokenized
dataset under `dataset_prepared_path`: every split, each subject (`person_id` = MEDS
`subject_id`) with `concept_ids` (its stream, unknown codes dropped), `ages` (each token's age,
the model's position input) and `epoch_times`. That saved dataset is the stream the model trained
on, so the audit reads it as written rather than rebuilding it. The import writes:

- `streams.parquet`: subject_id, codes, days (since the first token), header (tokens before the
  first visit: the demographic prompt), ages;
- `cehrgpt_import.json`: the model directory (`output_dir`), the Python that has `cehrgpt`
  (checked here), and the visit-type tokens (the token after each `[VS]`).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
import yaml

from ...atomic import atomic_dir
from ...errors import UserInputError
from ...tables import first_line
from .cehrgpt import IMPORT_FILE, STREAMS_FILE

VISIT_START = "[VS]"
SECONDS_PER_DAY = 86_400.0
STREAM_COLUMNS = ("person_id", "concept_ids", "ages", "epoch_times")


def runner_settings(config: Path) -> tuple[Path, Path]:
    """(model directory, prepared-dataset directory) of the runner's YAML."""
    try:
        settings = yaml.safe_load(Path(config).read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise UserInputError(
            "the YAML file CEHR-GPT's pretraining runner was given", f"{config}: {first_line(e)}", "pass it"
        ) from None
    missing = [k for k in ("output_dir", "dataset_prepared_path") if not settings.get(k)]
    if missing:
        raise UserInputError(
            "a CEHR-GPT runner config with output_dir and dataset_prepared_path",
            f"{config} without {', '.join(missing)}",
            "pass the YAML of hf_cehrgpt_pretrain_runner",
        )
    if settings.get("streaming"):
        raise UserInputError(
            "a run with streaming: false (the runner then saves the dataset it trained on)",
            f"streaming: true in {config}",
            "rerun the runner with streaming: false, or write cohort.stream_table yourself",
        )
    return Path(settings["output_dir"]).expanduser(), Path(settings["dataset_prepared_path"]).expanduser()


def check_model_dir(model: Path) -> None:
    """Refuse a directory that is not a CEHR-GPT save_pretrained directory, saying what it is."""
    config = model / "config.json"
    if not config.is_file():
        raise UserInputError(
            "a CEHR-GPT model directory (config.json)", f"{model} without config.json", "train it first"
        )
    model_type = json.loads(config.read_text()).get("model_type")
    if model_type != "cehrgpt":
        raise UserInputError(
            "a CEHR-GPT model (config.json model_type cehrgpt)",
            f"model_type {model_type!r} in {model}",
            "audit other transformers models with memaudit audit --model DIR; MEDS_EIC_AR: import-eic-ar",
        )


def tokenized_splits(prepared: Path) -> list[Path]:
    """The arrow files of the tokenized dataset (the one with `input_ids`) under `prepared`."""
    for info in sorted(prepared.glob("*/*/dataset_info.json")):
        features = json.loads(info.read_text()).get("features", {})
        if "input_ids" in features and all(c in features for c in STREAM_COLUMNS):
            return sorted(p for p in info.parent.parent.glob("*/data-*.arrow"))
    raise UserInputError(
        "the tokenized dataset CEHR-GPT's runner saved under dataset_prepared_path",
        f"none with input_ids in {prepared}",
        "run the pretraining runner to completion with streaming: false",
    )


def read_streams(files: list[Path]) -> pl.DataFrame:
    """One row per subject: codes, days, header, ages."""
    rows: dict[str, list] = {"subject_id": [], "codes": [], "days": [], "header": [], "ages": []}
    for f in files:
        with pa.memory_map(str(f)) as source:
            table = ipc.open_stream(source).read_all().select(list(STREAM_COLUMNS))
        for person, codes, ages, times in zip(*(table.column(c).to_pylist() for c in STREAM_COLUMNS)):
            t = np.asarray(times, dtype=np.float64)
            rows["subject_id"].append(int(person))
            rows["codes"].append(list(codes))
            rows["days"].append(((t - t[0]) / SECONDS_PER_DAY).tolist() if t.size else [])
            rows["header"].append(codes.index(VISIT_START) if VISIT_START in codes else 0)
            rows["ages"].append([int(a) for a in ages])
    frame = pl.DataFrame(
        rows,
        schema={
            "subject_id": pl.Int64,
            "codes": pl.List(pl.String),
            "days": pl.List(pl.Float64),
            "header": pl.Int64,
            "ages": pl.List(pl.Int64),
        },
    )
    return frame.unique("subject_id", keep="first").sort("subject_id")


def visit_types(frame: pl.DataFrame) -> list[str]:
    """The tokens that follow `[VS]`: the visit types of the stream."""
    found = set()
    for codes in frame["codes"].to_list():
        found |= {codes[i + 1] for i, c in enumerate(codes[:-1]) if c == VISIT_START}
    return sorted(found)


def check_python(python: str) -> None:
    done = subprocess.run([python, "-c", "import cehrgpt.models.hf_cehrgpt"], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise UserInputError(
            f"the cehrgpt package importable by {python}",
            last,
            "pass --python pointing at CEHR-GPT's environment (scripts/setup_cehrgpt.sh makes .venv-cehrgpt)",
        )


def import_cehrgpt(runner_config: Path, out: Path, python: str) -> tuple[Path, int]:
    """Write the audit directory `out`; returns it and the number of subjects. Nothing is written
    unless it all works."""
    model, prepared = runner_settings(runner_config)
    check_model_dir(model)
    files = tokenized_splits(prepared)
    check_python(python)
    if out.exists() and any(out.iterdir()):
        raise UserInputError("an empty or new directory", f"{out} (not empty)", "choose a new --out")
    streams = read_streams(files)
    with atomic_dir(out) as tmp:
        streams.write_parquet(tmp / STREAMS_FILE)
        spec = {
            "stack": "cehrgpt",
            "model": str(model.resolve()),
            "python": python,
            "runner_config": str(Path(runner_config).resolve()),
            "visit_types": visit_types(streams),
        }
        (tmp / IMPORT_FILE).write_text(json.dumps(spec, indent=2))
    return out, streams.height
