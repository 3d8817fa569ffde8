"""The Python API: `memaudit.run_audit(cohort, model, config)`."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .cohort.meds_reader import MedsDataset
from .config import AuditConfig, load_config
from .pipeline import ModelSource, audit


def run_audit(
    cohort: str | Path | MedsDataset,
    model: Any,
    config: str | Path | Mapping[str, Any] | AuditConfig | None = None,
    out: str | Path | None = None,
    progress: bool = False,
) -> dict:
    """Audit `model` on `cohort` and return report.json as a dict.

    Args:
        cohort: a MEDS root directory or a `MedsDataset`.
        model: a Hugging Face model directory with vocab.json, or any object with the adapter
            methods (`capabilities`, `fingerprint` and any of `generate` / `score` / `embed`;
            see `memaudit.adapters.base`).
        config: a YAML path, a mapping of overrides over the defaults, or an `AuditConfig`.
        out: run directory (report.json, report.html, subjects.parquet, cache); a temporary one
            when omitted.
        progress: show progress bars (on a terminal only).

    Raises:
        memaudit.errors.UserInputError: bad input, with what was expected and how to fix it.
    """
    if isinstance(config, AuditConfig):
        cfg = config
    elif isinstance(config, Mapping):
        cfg = load_config(overrides=config)
    else:
        cfg = load_config(Path(config) if config else None)
    source = ModelSource(model=Path(model)) if isinstance(model, (str, Path)) else ModelSource(adapter=model)
    with tempfile.TemporaryDirectory() as scratch:
        report, _ = audit(
            cohort,
            source,
            Path(out) if out is not None else Path(scratch),
            cfg,
            progress=progress,
            echo=False,
        )
    return report
