"""`memaudit audit`: run the memorization audit T1-T6 on a model and a MEDS cohort."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserInputError
from ..rundir import writable_location
from .common import config_from, model_options, source_from

NAME = "audit"
HELP = "run the memorization audit T1-T6 on a model and a MEDS cohort"


def add_arguments(p: argparse.ArgumentParser) -> None:
    model_options(p)
    p.add_argument("--out", required=True, help="run directory (report.json, subjects.parquet, cache)")
    p.add_argument(
        "--fail-on",
        choices=["medium", "high"],
        help="exit 3 when the risk level reaches this, or when the audit is incomplete",
    )
    p.add_argument(
        "--accept-incomplete",
        action="store_true",
        help="with --fail-on: gate on what was tested even when a test had nothing to work on",
    )
    p.add_argument(
        "--include-examples", action="store_true", help="opt in: show raw timelines of flagged subjects"
    )
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="ray: model calls as Ray Data map_batches over model-replica actors (memaudit[ray])",
    )
    p.add_argument(
        "--ray-address", help="with --backend ray: join this Ray cluster (default: start a local one)"
    )
    p.add_argument(
        "--mlflow",
        action="store_true",
        help="log the audit to MLflow at MLFLOW_TRACKING_URI (memaudit[mlflow]): params, metrics, "
        "report.json and report.html, tag memaudit.risk",
    )
    p.add_argument(
        "--mlflow-run-id", help="with --mlflow: log to this run (default: the active run or a new one)"
    )
    p.add_argument("--mlflow-model", help="with --mlflow: tag this registered model's version too")
    p.add_argument("--mlflow-model-version", help="with --mlflow-model: the version to tag")


def run(args: argparse.Namespace) -> int:
    from ..pipeline import audit

    out = writable_location(Path(args.out))
    if (args.mlflow_model is None) != (args.mlflow_model_version is None):
        raise UserInputError(
            "--mlflow-model and --mlflow-model-version together",
            "only one of them",
            "name the registered model and its version",
        )
    if args.mlflow:
        from ..release.mlflow_log import require_mlflow

        require_mlflow()
    report, code = audit(
        Path(args.data),
        source_from(args),
        out,
        config_from(args),
        args.fail_on,
        args.include_examples,
        progress=not args.quiet,
        accept_incomplete=args.accept_incomplete,
    )
    if args.mlflow:
        from ..release.mlflow_log import log_audit

        run_id = log_audit(out, report, args.mlflow_run_id, args.mlflow_model, args.mlflow_model_version)
        print(f"logged the audit to MLflow run {run_id}")
    return code
