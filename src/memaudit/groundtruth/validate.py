"""`memaudit validate`: measure the audit against planted ground truth."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from ..atomic import write_json
from ..config.sections import ALL_UNSEEN
from ..errors import UserInputError
from .placebo import POSING_MEMBERS, TRUE_NON_MEMBERS, PlaceboDataset, placebo_dir_name
from .score import ground_truth_by_hash, placebo_summary, power_and_exposure, t5_accuracy

QUICK_AUDIT = {
    "subjects_per_arm": None,
    "tiers": ["none", "static", "codes:10", "codes:20"],
    "generation": {"max_new_codes": 48},  # default sampling: sequential rounds up to 100 samples
    # every flag of both kinds: canaries (random plants, first in T5's budget) and pattern cases
    "t5": {"max_cases": 200},
}
TARGETS = {
    "power_at_20_plus": 0.95,
    "placebo_false_flag_rate": 0.05,
    "t5_pattern_memorized_at_most": 0.05,
    "t5_pattern_generalized": 0.8,
    "placebo_epsilon_zero": 0.95,
}
# The validation cohort: enough canaries that T5 meets enough flagged ones, their random plant
# within the generation horizon of codes:10 and codes:20 (clinical codes 12-30)
QUICK_CANARIES_PER_REPETITION = 50
QUICK_PLANT_WINDOW = (12, 30)
REFERENCE_HOLD_OUT = 0.5


def _read_run(run_dir: Path) -> tuple[dict, pl.DataFrame, str, dict]:
    try:
        report = json.loads((run_dir / "report.json").read_text())
        subjects = pl.read_parquet(run_dir / "subjects.parquet")
        salt = (run_dir / "salt.secret").read_text().strip()
        log = json.loads((run_dir / "run_log.json").read_text())
    except FileNotFoundError as e:
        raise UserInputError(
            "a finished audit run directory (report.json, subjects.parquet, salt.secret)",
            f"{run_dir} lacking {Path(e.filename).name}",
            "run `memaudit audit` first",
        ) from None
    return report, subjects, salt, log


def placebo_audit(data: Path, model: Path, out: Path, report: dict, progress: bool, draw: int = 0) -> Path:
    """Rerun the audit's config with both arms drawn from the non-member split (cut by `draw`)."""
    from ..config import load_config
    from ..pipeline import ModelSource, audit

    overrides = dict(report["config"])
    overrides["splits"] = {"members": POSING_MEMBERS, "non_members": TRUE_NON_MEMBERS}
    # both placebo arms are non-members: the reference never saw them either
    # (an explicit "all": left empty, the unseen_members.parquet beside the reference would be read,
    # and it lists none of the posing members, so T5 would judge no case)
    overrides["reference"] = {**overrides.get("reference", {}), "unseen_members": ALL_UNSEEN}
    # the placebo's level is what is scored; how stable it is would cost ten more audits unread
    overrides["statistics"] = {**overrides.get("statistics", {}), "stability_resamples": 0}
    config = load_config(overrides=overrides)
    dataset = PlaceboDataset(data, report["config"]["splits"]["non_members"], config.seed, draw)
    audit(dataset, ModelSource(model=model), out, config, progress=progress, echo=False)
    return out


def validate(
    data: Path,
    run_dir: Path,
    model: Path | None = None,
    progress: bool = True,
    information: Mapping[str, Any] | None = None,
    placebo_draws: int = 1,
) -> dict:
    """Score the audit in `run_dir` against the cohort's planted truth, beside its placebo audit
    (`placebo_draws` of them: each another cut of the non-member split; the first is scored in
    full, each one's verdict is in `placebo_draws`)."""
    data, run_dir = Path(data), Path(run_dir)
    gt_path = data / "ground_truth.parquet"
    if not gt_path.exists():
        raise UserInputError(
            "a synthetic cohort with ground_truth.parquet (from `memaudit synth`)",
            f"none in {data}",
            "validate on a cohort written by `memaudit synth`",
        )
    report, subjects, salt, log = _read_run(run_dir)
    gt = ground_truth_by_hash(pl.read_parquet(gt_path), salt)
    model = Path(model or log.get("model_dir", ""))
    for draw in range(placebo_draws):
        placebo_dir = run_dir / placebo_dir_name(draw)
        if not (placebo_dir / "report.json").exists():
            placebo_audit(data, model, placebo_dir, report, progress, draw)
    p_report, p_subjects, _, _ = _read_run(run_dir / placebo_dir_name(0))
    power = power_and_exposure(subjects, gt, report)
    result = {
        **power,
        "placebo": placebo_summary(p_subjects, p_report),
        "t5_accuracy": t5_accuracy(report, gt),
        "targets": TARGETS,
        "run": {
            "members": report["cohort"]["members"],
            "non_members": report["cohort"]["non_members"],
            "seed": report["seed"],
        },
    }
    result["placebo_draws"] = placebo_verdicts(run_dir)
    if information:
        result["information"] = dict(information)
    result["targets_met"] = targets_met(result)
    write_json(run_dir / "validation.json", result)
    return result


def placebo_verdict(report: dict) -> dict:
    """What a placebo audit concluded: its level (high is a false FAIL of the gate: both arms are
    unseen, nothing can be memorized), each test's status, and how many cases its T5 judged (none:
    T5 tested nothing) and called memorized."""
    t5 = report["tests"]["T5"]
    return {
        "risk_level": report["risk"]["level"],
        "statuses": {name: t["status"] for name, t in report["tests"].items()},
        "t5_status": t5["status"],
        "t5_counts": t5["metrics"].get("counts", {}),
        "t5_cases_judged": len(t5["metrics"].get("cases", [])),
    }


def placebo_verdicts(run_dir: Path) -> list[dict]:
    """`placebo_verdict` of every placebo audit written beside the audit, draw by draw."""
    out, draw = [], 0
    while (run_dir / placebo_dir_name(draw) / "report.json").exists():
        out.append(
            placebo_verdict(json.loads((run_dir / placebo_dir_name(draw) / "report.json").read_text()))
        )
        draw += 1
    return out


def targets_met(v: dict) -> dict:
    heavy = [p for r, p in v["power_by_repeats"].items() if int(r) >= 20 and p is not None]
    pl_ = v["placebo"]
    lo, hi = pl_["share_p_below_0_05_acceptance95"]
    t5 = v["t5_accuracy"]
    at_least = lambda key, target: t5[key] is not None and t5[key] >= target
    return {
        "power_ge_0_95_at_20_plus_repeats": bool(heavy) and min(heavy) >= TARGETS["power_at_20_plus"],
        "placebo_auroc_ci_contains_0_5": pl_["t4_auroc_ci95"][0] <= 0.5 <= pl_["t4_auroc_ci95"][1],
        "placebo_false_flags_le_5pct": pl_["false_flag_rate"] <= TARGETS["placebo_false_flag_rate"],
        "placebo_p_share_within_binomial_range": lo <= pl_["share_p_below_0_05"] <= hi,
        "placebo_t1_t2_t6_p_shares_within_binomial_range": all(
            t["within"] for t in pl_["p_values_by_test"].values()
        ),
        "placebo_no_memorized_case": pl_["t5_memorized"] == 0,
        "placebo_epsilon_zero_ge_95pct": pl_["epsilon_zero_share"] >= TARGETS["placebo_epsilon_zero"],
        "t5_pattern_memorized_le_0_05": t5["pattern_labelled_memorized"] is not None
        and t5["pattern_labelled_memorized"] <= TARGETS["t5_pattern_memorized_at_most"],
        "t5_pattern_generalized_ge_0_8": at_least(
            "pattern_labelled_generalized", TARGETS["t5_pattern_generalized"]
        ),
    }


def format_table(v: dict) -> str:
    f = lambda x: "–" if x is None else (f"{x:.2f}" if isinstance(x, float) else str(x))
    ci = lambda lo_hi: f"[{f(lo_hi[0])}, {f(lo_hi[1])}]"
    lines = [
        "| canary repeats | canaries | T4 power @1% FPR | exposure (bits) | T1 power | T2 power |",
        "|---|---|---|---|---|---|",
    ]
    for r in v["power_by_repeats"]:
        lines.append(
            f"| {r} | {v['canaries_audited_by_repeats'][r]} | {f(v['power_by_repeats'][r])} | "
            f"{f(v['exposure_by_repeats'][r])} | {f(v['t1_power_by_repeats'][r])} | "
            f"{f(v['t2_power_by_repeats'][r])} |"
        )
    p, t5 = v["placebo"], v["t5_accuracy"]
    shares = "; ".join(
        f"{name} {f(t['share_below_0_05'])} of {t['n']} (range {f(t['acceptance95'][0])}–"
        f"{f(t['acceptance95'][1])})"
        for name, t in p["p_values_by_test"].items()
    )
    lines += [
        "",
        "| placebo (both arms unseen) | value |",
        "|---|---|",
        f"| T4 AUROC [95% CI] ({p['t4_decision_score']}: the strongest attack, simultaneous interval) | "
        f"{f(p['t4_auroc'])} "
        f"{ci(p['t4_auroc_ci95'])} |",
        f"| false-flag rate (T4 at 1% FPR or T5 memorized) | {f(p['false_flag_rate'])} |",
        "| T4: share of posing members with p < 0.05 (95% range "
        f"{f(p['share_p_below_0_05_acceptance95'][0])}–"
        f"{f(p['share_p_below_0_05_acceptance95'][1])}) | {f(p['share_p_below_0_05'])} |",
        f"| T1, T2, T6: share of p < 0.05 | {shares} |",
        f"| T5 cases called memorized | {p['t5_memorized']} |",
        f"| ε bound 0 over 200 split seeds | {f(p['epsilon_zero_share'])} |",
        f"| the placebo audit's report | risk {p['risk_level']} |",
        "",
        f"| T5 ({t5['mode']}), cases whose flag replicated | value [95% CI] |",
        "|---|---|",
        f"| canaries ≥ 20×, random plant within the horizon: memorized | "
        f"{f(t5['canary_20_plus_labelled_memorized'])} {ci(t5['canary_20_plus_ci95'])} "
        f"(n={t5['n_canary_20_plus_cases']}) |",
        f"| planted by pattern: memorized | {f(t5['pattern_labelled_memorized'])} "
        f"{ci(t5['pattern_memorized_ci95'])} "
        f"(n={t5['n_pattern_cases']}) |",
        f"| planted by pattern: generalized | {f(t5['pattern_labelled_generalized'])} "
        f"{ci(t5['pattern_cases_ci95'])} |",
        "| random plants of members seen once or 5× (information) | "
        f"{t5['random_below_20_repeats_verdicts']} |",
        "| all planted-at-random cases, flags that did not replicate included | "
        f"{t5['verdicts_of_random']} |",
        "",
        "targets met: " + ", ".join(f"{k}={'yes' if ok else 'NO'}" for k, ok in v["targets_met"].items()),
    ]
    if "information" in v:
        lines += ["", "information: " + json.dumps(v["information"])]
    return "\n".join(lines)


def quick(
    out: Path,
    subjects: int = 1200,
    seed: int = 0,
    epochs: int = 12,
    progress: bool = True,
    with_information: bool = True,
    style: str = "memaudit",
) -> dict:
    """The whole loop on a small cohort of the given code style: synth (with enough canaries, their
    plants within the horizon), train the audited model and a reference model without half of the
    members, audit, placebo audit, score."""
    from ..config import load_config
    from ..pipeline import ModelSource, audit
    from ..synthetic.cohort import SynthConfig, write_cohort
    from ..synthetic.trainer import TrainConfig, train_model

    out = Path(out)
    data, model, reference = out / "data", out / "model", out / "reference_model"
    if not (data / "ground_truth.parquet").exists():
        write_cohort(
            data,
            SynthConfig(
                n_subjects=subjects,
                seed=seed,
                style=style,
                canaries_per_repetition=QUICK_CANARIES_PER_REPETITION,
                canary_plant_window=QUICK_PLANT_WINDOW,
            ),
            progress=progress,
        )
    if not (model / "config.json").exists():
        train_model(data, model, TrainConfig(epochs=epochs, seed=seed), progress=progress)
    if not (reference / "config.json").exists():
        train_model(
            data,
            reference,
            TrainConfig(epochs=epochs, seed=seed, hold_out=REFERENCE_HOLD_OUT),
            progress=progress,
        )
    config = load_config(overrides={**QUICK_AUDIT, "seed": seed, "reference": {"model": str(reference)}})
    if not (out / "audit" / "report.json").exists():
        audit(data, ModelSource(model=model), out / "audit", config, progress=progress, echo=False)
    info = None
    if with_information:
        plain = out / "model_no_repetition"
        if not (plain / "config.json").exists():
            train_model(
                data,
                plain,
                # each record once: the data's copies dropped (and no repetition from the ground truth)
                TrainConfig(epochs=epochs, seed=seed, dedup=True, early_stopping_patience=2),
                progress=progress,
            )
        if not (out / "audit_no_repetition" / "report.json").exists():
            audit(
                data,
                ModelSource(model=plain),
                out / "audit_no_repetition",
                load_config(overrides={**QUICK_AUDIT, "seed": seed}),
                progress=progress,
                echo=False,
            )
        r2, s2, salt2, _ = _read_run(out / "audit_no_repetition")
        gt2 = ground_truth_by_hash(pl.read_parquet(data / "ground_truth.parquet"), salt2)
        p2 = power_and_exposure(s2, gt2, r2)
        info = {
            "no_repetition_early_stopping_model": {
                "power_by_repeats": p2["power_by_repeats"],
                "exposure_by_repeats": p2["exposure_by_repeats"],
                "t4_auroc": r2["tests"]["T4"]["metrics"]["decision"]["auroc"],
                "risk_level": r2["risk"]["level"],
            }
        }
    result = validate(data, out / "audit", model, progress, info)
    result["style"] = style
    write_json(out / "validation.json", result)
    return result
