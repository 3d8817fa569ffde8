"""`memaudit audit`: run T1–T6 and write report.json, subjects.parquet and the summary."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Mapping

from .adapters.hf import HFAdapter
from .audits.runner import AuditOutcome, run_audit
from .cohort.meds_reader import MedsDataset
from .config import AuditConfig, load_config
from .fingerprint import hash_files
from .report.json_report import build_report, markdown_summary, write_report, write_subject_table
from .atomic import write_json
from .errors import UserInputError
from .report.html import write_html
from .report.lock import run_lock
from .report.privacy import load_or_create_salt
from .report.schema import validate_report

LEVELS = {"low": 0, "medium": 1, "high": 2}


def audit(data: Path, model: Path, out: Path, config_path: Path | None = None,
          overrides: Mapping[str, Any] | None = None, fail_on: str | None = None, include_examples: bool = False,
          trust_pickle: bool = False, progress: bool = True, echo: bool = True,
          generations: Path | None = None, backend: str = "local", ray_address: str | None = None) -> tuple[dict, int]:
    """Returns the report and the exit code (0, or 3 when the gate fails). With `generations`,
    the samples come from that parquet (see `memaudit prompts`) instead of a model."""
    config = load_config(config_path, overrides)
    dataset = MedsDataset(data)
    if generations is not None:
        from .adapters.generations import GenerationsAdapter

        adapter = GenerationsAdapter(generations)
        model = Path(generations)
    elif backend == "ray":
        from .adapters.ray_backend import RayAdapter

        adapter = RayAdapter(model, batch_size=int(config["generation"]["batch_size"]), address=ray_address,
                             trust_pickle=trust_pickle, model_input=config["model_input"])
    else:
        adapter = HFAdapter(model, batch_size=int(config["generation"]["batch_size"]), trust_pickle=trust_pickle,
                            model_input=config["model_input"])
    reference = None
    if config["t4"]["reference_model"]:  # trained on the same tokens: the same model_input applies
        reference = HFAdapter(Path(config["t4"]["reference_model"]), trust_pickle=trust_pickle,
                              model_input=config["model_input"])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with run_lock(out):
        try:
            outcome = run_audit(dataset, adapter, config, out / "cache.sqlite", reference, progress)
        except sqlite3.OperationalError as e:
            raise UserInputError("room to write the response cache", f"{e} ({out / 'cache.sqlite'})",
                                 "free disk space or choose another --out; rerunning resumes from the cache") from None
        report = write_outputs(outcome, config, dataset, adapter, out, model, include_examples)
    if echo:
        for tier, n in report["cohort"]["excluded_per_tier"].items():
            if n:
                print(f"note: tier {tier} excluded {n} subject(s) whose timelines are too short for it")
        print(markdown_summary(report))
    code = 0
    if fail_on and LEVELS[report["risk"]["level"]] >= LEVELS[fail_on]:
        print(f"release gate: risk {report['risk']['level']} >= --fail-on {fail_on}: FAILED (exit 3)")
        code = 3
    return report, code


def write_outputs(outcome: AuditOutcome, config: AuditConfig, dataset: MedsDataset, adapter, out: Path,  # noqa: ANN001
                  model: Path, include_examples: bool) -> dict:
    """report.json (validated against the schema), report.html from it, subjects.parquet, run_log.json."""
    salt = load_or_create_salt(out)
    report = build_report(outcome, config, salt, hash_files(dataset.files), adapter.fingerprint(), include_examples)
    report = json.loads(json.dumps(report, default=str))
    validate_report(report)
    write_subject_table(outcome, salt, out / "subjects.parquet")
    write_report(report, out / "report.json")
    write_html(json.loads((out / "report.json").read_text()), out / "report.html")  # from the JSON alone
    write_json(out / "run_log.json", {"cache_hits": outcome.cache_hits, "cache_misses": outcome.cache_misses,
                                      "unknown_codes": len(outcome.unknown_codes), "model_dir": str(Path(model).resolve())})
    return report


def rerender(run_dir: Path) -> Path:
    """Re-render report.html from report.json alone."""
    path = Path(run_dir) / "report.json"
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserInputError("a run directory with report.json", f"none in {run_dir}", "run `memaudit audit` first") from None
    except json.JSONDecodeError as e:
        raise UserInputError("report.json in JSON", f"{e}", "rerun `memaudit audit` to rewrite it") from None
    import jsonschema

    try:
        validate_report(report)
    except jsonschema.ValidationError as e:
        raise UserInputError("report.json that follows the shipped schema", e.message[:200],
                             "rerun `memaudit audit` with this memaudit version") from None
    write_html(report, Path(run_dir) / "report.html")
    return Path(run_dir) / "report.html"
