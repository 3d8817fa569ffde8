"""`memaudit demo`: the whole path on the bundled synthetic cohort and the built-in model, and a
check of the audit's own verdicts against the cohort's planted truth."""

from __future__ import annotations

from pathlib import Path

import polars as pl

REFERENCE_HOLD_OUT = 0.5  # the reference model is trained without half of the members


def truth_of_cases(report: dict, ground_truth: pl.DataFrame, salt: str) -> list[str]:
    """One line per T5 case: its verdict and the two models' shares of samples with the group
    ("reference 0.09, audited 0.80") beside what the cohort planted (canary ×r and how the group
    was planted: at random, or by pattern). The planting label is how the generator wrote the
    timeline, not the truth about a training: a pattern plant the audited model regenerates far
    beyond the reference is memorized too (`memaudit validate --truth-models` measures that)."""
    from ..report.privacy import subject_hash

    truth = {}
    for row in ground_truth.iter_rows(named=True):
        planted = {p["group"]: p["kind"] for p in row["planted"] or []}
        truth[subject_hash(salt, row["subject_id"])] = (row["canary_repetitions"] or 0, planted)
    lines = []
    for case in report["tests"]["T5"]["metrics"].get("cases", []):
        repeats, planted = truth.get(case["subject"], (0, {}))
        kind = planted.get(case["group"], "not planted")
        who = f"canary ×{repeats}" if repeats else "member seen once"
        shares = (
            f"reference {case['p_reference']:.2f}, audited {case['p_audited']:.2f}"
            if case.get("p_reference") is not None
            else "no reference share"
        )
        lines.append(
            f"  {case['subject']} {case['group']}@{case['tier']}: {case['verdict']:<15} {shares:<32} "
            f"planted: {who}, {kind}"
        )
    return lines


def run_demo(out: Path, subjects: int, epochs: int, seed: int, quiet: bool) -> int:
    from ..config import load_config
    from ..pipeline import ModelSource, audit
    from .cohort import SynthConfig, write_cohort
    from .trainer import TrainConfig, train_model

    out = Path(out)
    data, model, reference = out / "data", out / "model", out / "reference_model"
    if not (data / "metadata").exists():
        counts = write_cohort(data, SynthConfig(n_subjects=subjects, seed=seed), progress=not quiet)
        print(f"[1/4] synthetic MEDS cohort: {counts} -> {data}")
    else:
        print(f"[1/4] reusing cohort {data}")
    if not (model / "config.json").exists():
        info = train_model(data, model, TrainConfig(epochs=epochs, seed=seed), progress=not quiet)
        print(f"[2/4] built-in model trained in {info['seconds']}s -> {model}")
    else:
        print(f"[2/4] reusing model {model}")
    if not (reference / "config.json").exists():
        info = train_model(
            data,
            reference,
            TrainConfig(epochs=epochs, seed=seed, hold_out=REFERENCE_HOLD_OUT),
            progress=not quiet,
        )
        print(
            f"[3/4] reference model (same recipe, {info['members_held_out']} members held out) trained in "
            f"{info['seconds']}s -> {reference}"
        )
    else:
        print(f"[3/4] reusing reference model {reference}")
    print("[4/4] auditing the built-in model (T1-T6)")
    config = load_config(overrides={"seed": seed, "reference": {"model": str(reference)}})
    report, code = audit(data, ModelSource(model=model), out / "audit", config, progress=not quiet)
    salt = (out / "audit" / "salt.secret").read_text().strip()
    lines = truth_of_cases(report, pl.read_parquet(data / "ground_truth.parquet"), salt)
    if lines:
        print("T5 cases against the planted truth (the audit never reads it):")
        print("\n".join(lines))
    print(f"report: {out / 'audit' / 'report.html'}")
    return code
