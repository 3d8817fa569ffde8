"""`memaudit audit`: run T1–T6 and write report.json, subjects.parquet and the summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from .adapters.hf import HFAdapter
from .audits.runner import run_audit
from .cohort.meds_reader import MedsDataset
from .config import load_config
from .report.json_report import build_report, hash_files, markdown_summary, write_report, write_subject_table
from .report.html import write_html
from .report.privacy import load_or_create_salt
from .report.schema import validate_report

LEVELS = {"low": 0, "medium": 1, "high": 2}


def audit(data: Path, model: Path, out: Path, config_path: Path | None = None,
          overrides: Mapping[str, Any] | None = None, fail_on: str | None = None, include_examples: bool = False,
          trust_pickle: bool = False, progress: bool = True) -> tuple[dict, int]:
    """Returns the report and the exit code (0, or 3 when the gate fails)."""
    config = load_config(config_path, overrides)
    dataset = MedsDataset(data)
    adapter = HFAdapter(model, batch_size=int(config["generation"]["batch_size"]), trust_pickle=trust_pickle)
    reference = None
    if config["t4"]["reference_model"]:
        reference = HFAdapter(Path(config["t4"]["reference_model"]), trust_pickle=trust_pickle)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    salt = load_or_create_salt(out)
    outcome = run_audit(dataset, adapter, config, out / "cache.sqlite", reference, progress)
    report = build_report(outcome, config, salt, hash_files(dataset.files), adapter.fingerprint(), include_examples)
    report = json.loads(json.dumps(report, default=str))
    validate_report(report)
    write_subject_table(outcome, salt, out / "subjects.parquet")
    write_report(report, out / "report.json")
    write_html(json.loads((out / "report.json").read_text()), out / "report.html")  # from the JSON alone
    print(markdown_summary(report))
    code = 0
    if fail_on and LEVELS[report["risk"]["level"]] >= LEVELS[fail_on]:
        print(f"release gate: risk {report['risk']['level']} >= --fail-on {fail_on}: FAILED (exit 3)")
        code = 3
    return report, code


def rerender(run_dir: Path) -> Path:
    """Re-render report.html from report.json alone."""
    from .errors import UserInputError

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
