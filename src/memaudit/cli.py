"""The `memaudit` command: arguments only; each command calls the pipeline (or the synthetic
cohort, trainer and validation built on it). Bad input ends with one line on stderr and exit
code 2; a failed release gate exits 3."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from .errors import UserInputError
from .rundir import writable_location, write_error
from .version import __version__

EXIT_OK, EXIT_BAD_INPUT, EXIT_GATE = 0, 2, 3


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}; pass a positive number")
    return value


def _in_unit_interval(low_open: bool, high_open: bool) -> Callable[[str], float]:
    """An argparse type: a number in [0, 1] with the ends open as asked."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if (value <= 0 if low_open else value < 0) or (value >= 1 if high_open else value > 1):
            ends = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"expected a number in {ends}, got {value}")
        return value

    return parse


def _similarity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a similarity between 0 and 1, got {value}")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers like 1,5,20,50, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive repetition counts like 1,5,20,50, got {text!r}")
    return values


def cmd_synth(args: argparse.Namespace) -> int:
    from .synthetic.cohort import SynthConfig, write_cohort

    cfg = SynthConfig(
        n_subjects=args.subjects,
        seed=args.seed,
        canary_repetitions=args.canary_repetitions,
        canaries_per_repetition=args.canaries_per_repetition,
        repetitions_in_data=args.repetitions_in_data,
        style=args.style,
    )
    counts = write_cohort(writable_location(Path(args.out)), cfg, progress=not args.quiet)
    print(f"wrote MEDS cohort to {args.out}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from .synthetic.trainer import TrainConfig, train_model

    cfg = TrainConfig(
        epochs=args.epochs,
        hidden_size=args.hidden_size,
        layers=args.layers,
        heads=args.heads,
        seed=args.seed,
        repeat_canaries=not args.no_canary_repetition,
        early_stopping_patience=args.early_stopping,
        architecture=args.architecture,
        hold_out=args.hold_out,
        dedup=args.dedup,
        min_code_subjects=args.min_code_subjects,
        dp_epsilon=args.dp_epsilon,
    )
    info = train_model(Path(args.data), writable_location(Path(args.out)), cfg, progress=not args.quiet)
    last = info["history"][-1]
    held = (
        f"; {info['members_held_out']} members held out (unseen_members.parquet)"
        if info["members_held_out"]
        else ""
    )
    dp = info["safeguards"]["dp_sgd"]
    if dp is not None:
        held += (
            f"; DP-SGD: epsilon {dp['epsilon']:.2f} at delta {dp['delta']:.1e} (Opacus, {dp['accountant']})"
        )
    print(
        f"trained {info['n_member_subjects']} members for {last['epoch']} epochs in {info['seconds']}s: "
        f"train loss {last['train_loss']:.3f}, tuning loss {last['tuning_loss']:.3f}; saved to "
        f"{args.out}{held}"
    )
    return EXIT_OK


def _config(args: argparse.Namespace):  # -> AuditConfig, imported here so that --help stays fast
    from .config import load_config

    overrides: dict = {}
    if getattr(args, "subjects_per_arm", None):
        overrides["subjects_per_arm"] = args.subjects_per_arm
    if getattr(args, "reference_model", None):
        overrides["reference"] = {"model": args.reference_model, "unseen_members": args.reference_unseen}
    return load_config(Path(args.config) if args.config else None, overrides, getattr(args, "preset", None))


def _source(args: argparse.Namespace):  # -> ModelSource
    from .pipeline import ModelSource

    if not args.model and not args.generations:
        raise UserInputError("--model MODEL_DIR or --generations FILE", "neither", "pass one of them")
    return ModelSource(
        model=Path(args.model) if args.model else None,
        generations=Path(args.generations) if args.generations else None,
        backend=getattr(args, "backend", "local"),
        ray_address=getattr(args, "ray_address", None),
        trust_pickle=args.trust_pickle,
    )


def cmd_audit(args: argparse.Namespace) -> int:
    from .pipeline import audit

    out = writable_location(Path(args.out))
    if (args.mlflow_model is None) != (args.mlflow_model_version is None):
        raise UserInputError(
            "--mlflow-model and --mlflow-model-version together",
            "only one of them",
            "name the registered model and its version",
        )
    if args.mlflow:
        from .release.mlflow_log import require_mlflow

        require_mlflow()
    report, code = audit(
        Path(args.data),
        _source(args),
        out,
        _config(args),
        args.fail_on,
        args.include_examples,
        progress=not args.quiet,
        accept_incomplete=args.accept_incomplete,
    )
    if args.mlflow:
        from .release.mlflow_log import log_audit

        run_id = log_audit(out, report, args.mlflow_run_id, args.mlflow_model, args.mlflow_model_version)
        print(f"logged the audit to MLflow run {run_id}")
    return code


def cmd_card(args: argparse.Namespace) -> int:
    from .release.card import write_card

    path = write_card(
        Path(args.run_dir),
        Path(args.model_card) if args.model_card else None,
        Path(args.out) if args.out else None,
        args.model_name,
    )
    print(f"wrote the privacy section and results of {args.run_dir} into {path}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from .pipeline import check

    _, text = check(Path(args.data), _source(args), _config(args))
    print(text)
    return EXIT_OK


def cmd_prompts(args: argparse.Namespace) -> int:
    from .pipeline import export_prompts

    n = export_prompts(Path(args.data), _config(args), writable_location(Path(args.out)))
    print(
        f"wrote {n} distinct prompts to {args.out}; generate every row and pass the samples to "
        "`memaudit audit --generations FILE`"
    )
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from .pipeline import rerender

    print(f"wrote {rerender(Path(args.run_dir))}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from .report.schema import report_schema

    print(json.dumps(report_schema(), indent=2))
    return EXIT_OK


def cmd_import_eic_ar(args: argparse.Namespace) -> int:
    from .adapters.eic_ar import import_eic_ar

    out = import_eic_ar(
        Path(args.checkpoint),
        Path(args.tensorized),
        writable_location(Path(args.out)),
        args.python,
        args.trust_pickle,
    )
    print(
        f"wrote {out}: audit it with `memaudit audit --preset meds_eic_ar --model {out} "
        "--data INTERMEDIATE_DIR`"
    )
    return EXIT_OK


def cmd_scan(args: argparse.Namespace) -> int:
    from .scan import LEVELS, ScanOptions, run_scan

    near = None if args.near_copy_similarity == 0 else args.near_copy_similarity
    options = ScanOptions(
        k=args.k, min_events=args.min_events, top=args.top, split=args.split, near_copy_similarity=near
    )
    scan = run_scan(Path(args.data), Path(args.out), _config(args), options)
    records = scan["repeated_records"]
    print(
        f"scanned {scan['n_subjects']} subjects of split {scan['split']} in {scan['seconds']}s: "
        f"{len(records['groups'])} repeated-record groups ({records['subjects_in_groups']} subjects), "
        f"{len(scan['near_copies']['pairs'])} near-copy pairs, "
        f"{len(scan['rare_sensitive']['codes'])} sensitive codes held by fewer than {scan['k']} patients; "
        f"level {scan['level']}; wrote {args.out}/scan.json and scan.html"
    )
    if args.fail_on and LEVELS.index(scan["level"]) >= LEVELS.index(args.fail_on):
        print(f"scan gate: level {scan['level']} >= --fail-on {args.fail_on}: FAILED (exit 3)")
        return EXIT_GATE
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import CompareOptions, run_compare

    comparison = run_compare(
        Path(args.run_a),
        Path(args.run_b),
        Path(args.out),
        Path(args.data) if args.data else None,
        CompareOptions(alpha=args.alpha, margin=args.margin),
    )
    worse = [name for name, m in comparison["measures"].items() if m["worse"]]
    print(
        f"{comparison['design']} comparison of {len(comparison['measures'])} measures: risk "
        f"{comparison['risk']['a']} -> {comparison['risk']['b']}; "
        + (f"B worse on {', '.join(worse)}" if worse else "no significant regression")
        + f"; wrote {args.out}/compare.json, compare.html, compare.md"
    )
    if args.fail_on_regression and comparison["regression"]:
        print("compare gate: B leaks significantly more than A: FAILED (exit 3)")
        return EXIT_GATE
    return EXIT_OK


def cmd_import_cehrgpt(args: argparse.Namespace) -> int:
    from .adapters.cehrgpt_import import import_cehrgpt

    out, n = import_cehrgpt(Path(args.runner_config), writable_location(Path(args.out)), args.python)
    print(
        f"wrote {out} ({n} subjects' streams): audit it with `memaudit audit --preset cehrgpt --model {out} "
        "--data MEDS_DIR`"
    )
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from .config.reference import default_yaml

    print(default_yaml(), end="")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from .groundtruth.validate import format_table, quick, validate

    if args.repeat:
        from .groundtruth.repeats import format_repeats, repeat

        out = writable_location(Path(args.out or "repeats_run"))
        result = repeat(
            out,
            args.repeat,
            [s.strip() for s in args.scenario.split(",") if s.strip()],
            start=args.seed,
            progress=not args.quiet,
            keep=args.keep,
        )
        print(format_repeats(result))
        print(f"wrote {out / 'repeats.json'}")
        return EXIT_OK
    if args.truth_models:
        from .groundtruth.truth_models import measure

        if not args.data or not args.run:
            raise UserInputError(
                "--data and --run with --truth-models",
                "missing arguments",
                "pass the synthetic cohort and the finished audit run (with a reference model)",
            )
        truth = measure(Path(args.run), Path(args.data), args.truth_models, epochs=args.truth_epochs)
        precision = truth["t5_precision"]
        print(
            f"T5 memorized calls labelled memorized by {args.truth_models} half-models: "
            f"{precision['k']} of {precision['n']} (labels: {truth['labels_of_memorized_calls']}); "
            f"wrote {Path(args.run) / 'truth' / 'truth.json'}"
        )
        return EXIT_OK
    if args.quick:
        result = quick(
            writable_location(Path(args.out or "validation_run")),
            seed=args.seed,
            progress=not args.quiet,
            with_information=not args.no_information,
            style=args.style,
        )
        where = Path(args.out or "validation_run") / "validation.json"
    else:
        if not args.data or not args.run:
            raise UserInputError(
                "--data and --run (or --quick)",
                "missing arguments",
                "pass --data DIR --run RUN_DIR, or --quick --out DIR",
            )
        result = validate(
            Path(args.data), Path(args.run), Path(args.model) if args.model else None, not args.quiet
        )
        where = Path(args.run) / "validation.json"
    print(format_table(result))
    print(f"wrote {where}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .synthetic.demo import run_demo

    return run_demo(
        writable_location(Path(args.out)),
        subjects=args.subjects,
        epochs=args.epochs,
        seed=args.seed,
        quiet=args.quiet,
    )


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments get one line on stderr and exit 2, like every other bad input (no usage block:
    `--help` shows it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="memaudit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"memaudit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(fn=fn)
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        return p

    p = add("synth", cmd_synth, "write a synthetic MEDS cohort with planted ground truth")
    p.add_argument("--out", required=True, help="new directory for the MEDS dataset")
    p.add_argument("--subjects", type=_positive_int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--canary-repetitions", type=_int_list, default=(1, 5, 20, 50), help="e.g. 1,5,20,50")
    p.add_argument(
        "--repetitions-in-data",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write a ×r canary r times (copies under new subject ids), as real extracts repeat records "
        "(default); --no-repetitions-in-data writes each record once and the trainer repeats canaries",
    )
    p.add_argument("--canaries-per-repetition", type=int, default=10)
    p.add_argument(
        "--style",
        default="memaudit",
        choices=["memaudit", "mimic"],
        help="memaudit's own codes, or MIMIC-IV MEDS conventions (ICD-9/10 mixed, GENDER static rows, "
        "MEDS_BIRTH, lab item ids, no time-gap codes)",
    )

    p = add("train", cmd_train, "train the built-in model (a tiny transformers Llama) on the member split")
    p.add_argument("--data", required=True, help="MEDS dataset directory")
    p.add_argument("--out", required=True, help="new directory for the Hugging Face model")
    p.add_argument("--epochs", type=_positive_int, default=12)
    p.add_argument("--hidden-size", type=_positive_int, default=128)
    p.add_argument("--layers", type=_positive_int, default=2)
    p.add_argument("--heads", type=_positive_int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--no-canary-repetition",
        action="store_true",
        help="do not repeat canaries from the ground truth (a cohort written with each record once); "
        "copies the data holds stay: --dedup trains on each record once",
    )
    p.add_argument(
        "--architecture",
        default="llama",
        choices=["llama", "gpt2", "mamba", "mamba2"],
        help="transformers architecture of the built-in model (default llama)",
    )
    p.add_argument(
        "--early-stopping",
        type=_positive_int,
        default=None,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without tuning-loss improvement",
    )
    p.add_argument(
        "--hold-out",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="train without this share of the members' records (seeded; a repeated record's copies "
        "together), listed in unseen_members.parquet: a reference model for `memaudit audit "
        "--reference-model`",
    )
    p.add_argument(
        "--dedup",
        action="store_true",
        help="safeguard: train on one copy of each repeated record (memaudit scan's groups)",
    )
    p.add_argument(
        "--min-code-subjects",
        type=_positive_int,
        default=1,
        metavar="K",
        help="safeguard: codes held by fewer than K training patients become the unknown token",
    )
    p.add_argument(
        "--dp-epsilon",
        type=float,
        default=None,
        metavar="E",
        help="safeguard: DP-SGD through Opacus at this epsilon (delta = 1/n); needs memaudit[dp]",
    )

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", required=True, help="MEDS dataset directory")
        p.add_argument("--model", help="Hugging Face model directory")
        p.add_argument(
            "--generations", help="parquet of precomputed samples instead of a model (see `memaudit prompts`)"
        )
        p.add_argument("--config", help="audit YAML merged over the defaults (`memaudit config` prints them)")
        p.add_argument(
            "--preset", help="settings of a known stack, merged under --config: meds_eic_ar, cehrgpt"
        )
        p.add_argument(
            "--reference-model", help="a model of the same recipe trained without the audited subjects"
        )
        p.add_argument(
            "--reference-unseen", help="with --reference-model: .parquet/.csv of the members it did not see"
        )
        p.add_argument(
            "--trust-pickle", action="store_true", help="allow pickle checkpoints (they can run code)"
        )
        p.add_argument("--subjects-per-arm", type=_positive_int, help="override subjects_per_arm")

    p = add(
        "check",
        cmd_check,
        "preflight: what the audit can test on this cohort and model, before any model call",
    )
    model_options(p)

    p = add("audit", cmd_audit, "run the memorization audit T1-T6 on a model and a MEDS cohort")
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

    p = add("card", cmd_card, "write the audit's verdict into a Hugging Face model card")
    p.add_argument("run_dir", help="a finished audit run directory")
    p.add_argument(
        "--model-card", help="an existing model card (README.md) to update; its other sections stay"
    )
    p.add_argument("--out", help="where to write (default: the --model-card file, else RUN/model_card.md)")
    p.add_argument("--model-name", help="the model's name in model-index (default: the card's, else 'model')")

    p = add("prompts", cmd_prompts, "export the audit's prompts for a model that runs elsewhere")
    p.add_argument("--data", required=True, help="MEDS dataset directory")
    p.add_argument("--out", required=True, help="parquet file to write")
    p.add_argument("--config", help="audit YAML (the same one you will audit with)")

    p = add("validate", cmd_validate, "measure the audit against the synthetic cohort's ground truth")
    p.add_argument("--data", help="synthetic MEDS cohort (with ground_truth.parquet)")
    p.add_argument("--run", help="finished audit run directory")
    p.add_argument("--model", help="model directory for the placebo audit (default: the run's model)")
    p.add_argument(
        "--quick", action="store_true", help="synth, train, audit, placebo audit and score a small cohort"
    )
    p.add_argument("--out", help="with --quick or --repeat: output directory (default validation_run)")
    p.add_argument("--seed", type=int, default=0, help="the seed (with --repeat: of the first run)")
    p.add_argument(
        "--repeat",
        type=_positive_int,
        help="train and audit N independent models per scenario (new data and training seed each); "
        "finished runs under --out are reused",
    )
    p.add_argument(
        "--scenario",
        default="seen_once,memorizing",
        help="with --repeat: comma-separated among seen_once, memorizing, demo, few_records, "
        "few_records_dp8, few_records_dp1",
    )
    p.add_argument(
        "--keep", action="store_true", help="with --repeat: keep each run's cohort, models and caches"
    )
    p.add_argument(
        "--truth-models",
        type=_positive_int,
        help="with --data and --run: train K models on complementary halves of the member records and "
        "label each T5 case memorized or not by what training on the record changed (RUN/truth/truth.json)",
    )
    p.add_argument(
        "--truth-epochs",
        type=_positive_int,
        default=12,
        help="with --truth-models: the audited model's epochs",
    )
    p.add_argument(
        "--no-information",
        action="store_true",
        help="with --quick: skip the informational model trained without canary repetition",
    )
    p.add_argument(
        "--style",
        default="memaudit",
        choices=["memaudit", "mimic"],
        help="with --quick: the synthetic cohort's code style",
    )

    p = add("scan", cmd_scan, "before training: which training subjects are at risk and why (no model)")
    p.add_argument("--data", required=True, help="MEDS cohort")
    p.add_argument(
        "--out", default="scan_run", help="scan directory (scan.json, scan.html; default scan_run)"
    )
    p.add_argument("--config", help="audit YAML: its tiers, sensitive groups, splits and stream recipe")
    p.add_argument("--split", help="the training split (default: the config's splits.members)")
    p.add_argument("--k", type=_positive_int, default=5, help="fewer patients than this single one out")
    p.add_argument(
        "--min-events", type=_positive_int, default=5, help="shortest timeline compared as a record"
    )
    p.add_argument("--top", type=_positive_int, default=100, help="subjects listed in the ranking")
    p.add_argument(
        "--near-copy-similarity",
        type=_similarity,
        default=0.9,
        help="records whose code multisets are at least this Jaccard-similar are near copies (0: off)",
    )
    p.add_argument("--fail-on", choices=["medium", "high"], help="exit 3 when the scan's level reaches this")

    p = add("compare", cmd_compare, "two audits side by side, and a gate on the second leaking more")
    p.add_argument("run_a", help="the baseline run directory (e.g. the last release)")
    p.add_argument("run_b", help="the run directory compared with it (e.g. the release candidate)")
    p.add_argument("--out", default="compare_run", help="output directory (default compare_run)")
    p.add_argument("--data", help="the MEDS cohort both audited: pairs the subjects both runs audited")
    p.add_argument(
        "--alpha",
        type=_in_unit_interval(True, True),
        default=0.05,
        help="family-wise error of the regression gate, in (0, 1)",
    )
    p.add_argument(
        "--margin",
        type=_in_unit_interval(False, True),
        default=0.05,
        help="the worsening (AUROC or gap) the gate acts on, in [0, 1)",
    )
    p.add_argument("--fail-on-regression", action="store_true", help="exit 3 when B is significantly worse")

    p = add("report", cmd_report, "re-render report.html from a run directory's report.json")
    p.add_argument("run_dir")
    add("schema", cmd_schema, "print the JSON Schema of report.json")
    add("config", cmd_config, "print the default audit configuration as commented YAML")

    p = add(
        "import-eic-ar", cmd_import_eic_ar, "export a MEDS_EIC_AR checkpoint as a model directory to audit"
    )
    p.add_argument(
        "--checkpoint", required=True, help="its Lightning checkpoint, e.g. OUTPUT_DIR/checkpoints/last.ckpt"
    )
    p.add_argument(
        "--tensorized", required=True, help="MEICAR_process_data's output_dir (metadata/codes.parquet)"
    )
    p.add_argument("--out", required=True, help="new model directory")
    p.add_argument(
        "--python", default=sys.executable, help="the Python with MEDS_EIC_AR installed (default: this one)"
    )
    p.add_argument("--trust-pickle", action="store_true", help="required: a Lightning checkpoint is a pickle")

    p = add(
        "import-cehrgpt",
        cmd_import_cehrgpt,
        "make an audit directory from what CEHR-GPT's pretraining runner wrote (model and streams)",
    )
    p.add_argument("--runner-config", required=True, help="the YAML given to hf_cehrgpt_pretrain_runner")
    p.add_argument("--out", required=True, help="new audit directory (pass it as --model)")
    p.add_argument(
        "--python", default=sys.executable, help="the Python with cehrgpt installed (default: this one)"
    )

    p = add("demo", cmd_demo, "synth, train and audit the built-in model end to end")
    p.add_argument("--out", default="demo_run", help="run directory (default demo_run)")
    p.add_argument("--subjects", type=_positive_int, default=2000)
    p.add_argument("--epochs", type=_positive_int, default=12)
    p.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args))
    except UserInputError as e:
        print(f"memaudit: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        message = write_error(e)
        if message is None:
            raise
        print(f"memaudit: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("memaudit: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
