"""The Python API: `memaudit.run_audit(cohort, model, config)`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Mapping

from .adapters.base import ModelAdapter
from .cohort.meds_reader import MedsDataset
from .config import AuditConfig, load_config


def run_audit(cohort: str | Path | MedsDataset, model: str | Path | ModelAdapter,
              config: str | Path | Mapping[str, Any] | AuditConfig | None = None, out: str | Path | None = None,
              progress: bool = False) -> dict:
    """Audit `model` on `cohort` and return report.json as a dict.

    cohort: a MEDS root directory or a MedsDataset. model: a Hugging Face model directory with
    vocab.json, or any object with the adapter methods (capabilities, fingerprint and any of
    generate / score / embed). config: a YAML path, a mapping of overrides, or an AuditConfig.
    out: run directory (report.json, report.html, cache); a temporary one when omitted."""
    from .adapters.hf import HFAdapter
    from .audit_command import write_outputs
    from .audits.runner import run_audit as _run
    from .report.lock import run_lock

    if isinstance(config, AuditConfig):
        cfg = config
    elif isinstance(config, Mapping):
        cfg = load_config(overrides=config)
    else:
        cfg = load_config(Path(config) if config else None)
    dataset = cohort if isinstance(cohort, MedsDataset) else MedsDataset(Path(cohort))
    adapter = (HFAdapter(Path(model), batch_size=int(cfg["generation"]["batch_size"]), model_input=cfg["model_input"])
               if isinstance(model, (str, Path)) else model)
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(out) if out is not None else Path(scratch)
        run_dir.mkdir(parents=True, exist_ok=True)
        with run_lock(run_dir):
            outcome = _run(dataset, adapter, cfg, run_dir / "cache.sqlite", None, progress)
            model_dir = Path(model) if isinstance(model, (str, Path)) else Path(type(model).__name__)
            write_outputs(outcome, cfg, dataset, adapter, run_dir, model_dir, include_examples=False)
        return json.loads((run_dir / "report.json").read_text())
