"""`memaudit audit ... --mlflow`: the audit recorded where teams promote models (extra
`memaudit[mlflow]`: mlflow-skinny with SQLAlchemy and alembic, enough for a SQL-backed tracking
store and the model registry).

Logged to the active MLflow run, or the run `run_id` names, at MLFLOW_TRACKING_URI:
- params: the config's hash, the seed, the tiers, memaudit's version;
- metrics: the risk level, each test's status as a number (STATUS_VALUE) and each test's headline
  figures (`Audit.headline`: membership AUROC and TPR at each FPR, the repeated-record arm's TPR,
  the largest AUROC gap of sensitive groups, the verdict counts of T5's cases);
- artifacts: report.json and report.html (never the caches or salt.secret);
- the tag `memaudit.risk` (and `memaudit.complete`), also on a registered model version when one
  is named, so that a promotion rule can read them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..audits.registry import registered
from ..errors import UserInputError
from ..tables import first_line
from .card import LEVEL_VALUE

STATUS_VALUE = {"pass": 0, "warn": 1, "fail": 2, "skipped": -1, "not_tested": -1}
ARTIFACTS = ("report.json", "report.html")


def audit_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    """The numbers a registry shows beside the model version: the risk level, each test's status,
    and each test's headline figures (`Audit.headline`)."""
    out: dict[str, float] = {"memaudit.risk_level": LEVEL_VALUE[report["risk"]["level"]]}
    for name, t in report["tests"].items():
        out[f"memaudit.{name}.status"] = STATUS_VALUE[t["status"]]
    for audit in registered():
        if audit.name in report["tests"]:
            out |= {f"memaudit.{audit.name}.{h.key}": h.value for h in audit.headline(report)}
    return {k: float(v) for k, v in out.items()}


def audit_params(report: Mapping[str, Any]) -> dict[str, str]:
    return {
        "memaudit.config_hash": report["inputs"]["config"],
        "memaudit.seed": str(report["seed"]),
        "memaudit.tiers": ",".join(report["config"].get("tiers", [])),
        "memaudit.version": report["memaudit_version"],
    }


def require_mlflow() -> None:
    """Before a long audit: MLflow must be importable for --mlflow (memaudit[mlflow])."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise UserInputError(
            "MLflow installed for --mlflow", "no mlflow module", "pip install 'memaudit[mlflow]'"
        ) from None


def log_audit(
    run_dir: Path,
    report: Mapping[str, Any],
    run_id: str | None = None,
    model: str | None = None,
    model_version: str | None = None,
) -> str:
    """Log the audit (module docstring); returns the MLflow run id. A tracking store that cannot
    be reached, or a model version that does not exist, is one UserInputError; the audit's own
    outputs are written before this is called."""
    require_mlflow()
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    tags = {"memaudit.risk": report["risk"]["level"], "memaudit.complete": str(report["risk"]["complete"])}
    # a tracking server that does not answer is reported at once, not after minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    try:
        active = mlflow.active_run()
        if active is not None and run_id in (None, active.info.run_id):
            # the caller's run (Python inside `mlflow.start_run()`): logged into and left open
            context = contextlib.nullcontext(active)
        else:
            context = mlflow.start_run(run_id=run_id, nested=active is not None)
        with context as run:
            mlflow.log_params(audit_params(report))
            mlflow.log_metrics(audit_metrics(report))
            mlflow.set_tags(tags)
            for name in ARTIFACTS:
                if (Path(run_dir) / name).is_file():
                    mlflow.log_artifact(str(Path(run_dir) / name), artifact_path="memaudit")
            logged = run.info.run_id
        if model is not None:
            client = MlflowClient()
            for key, value in tags.items():
                client.set_model_version_tag(model, model_version, key, value)
            client.set_model_version_tag(model, model_version, "memaudit.run_id", logged)
    except MlflowException as e:
        raise UserInputError(
            "a reachable MLflow tracking store (MLFLOW_TRACKING_URI) and, with --mlflow-model, an existing "
            "registered model version",
            first_line(e)[:200],
            f"check the tracking URI and the model name and version; the audit's outputs are in {run_dir}",
        ) from None
    except OSError as e:
        raise UserInputError(
            "a reachable MLflow tracking store (MLFLOW_TRACKING_URI)",
            first_line(e)[:200],
            f"check the tracking URI; the audit's outputs are in {run_dir}",
        ) from None
    return logged
