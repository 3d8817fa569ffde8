"""`memaudit validate --repeat N`: the release gate measured as a gate, over independent trainings.

One claim per audit ("this model memorized something") has an error rate per audit, and one
training is one draw of it. Each run of a scenario writes a new cohort (data seed) and trains the
audited and reference models (training seed) from seed `index`, audits, runs the placebo audit and
scores both against the planted truth. Runs live in `DIR/<scenario>/run_<index>/`; a run whose
`run.json` exists is reused, so N can grow over several invocations and a killed one loses only
the run it was in. `DIR/repeats.json` is recomputed from every finished run each time.

Scenarios:
- `seen_once`: every member seen once, conditions planted by pattern only (no canary, no random
  plant). Nothing is repeated; what T5 calls memorized here is what training on a patient seen
  once per epoch did (Feldman's long tail), true or not only against counterfactual truth. The
  false FAILs of the gate are counted in its placebo audits (both arms unseen by both models).
- `memorizing`: the validation cohort (canaries repeated 1×, 5×, 20×, 50× with their random plant
  within the generation horizon). The gate should say high.
- `demo`: `memaudit demo`'s recipe at seed `index` (how often the demo's verdict is what it is).
- `few_records`, `few_records_dp8`, `few_records_dp1`: a handful of records the data repeats (5 ×20,
  5 ×50) among members seen once, trained plain and with DP-SGD at ε 8 and 1. The gate's false LOW
  is measured here: low while the ground truth identifies a repeated record at 1% FPR.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..atomic import write_json
from ..audits.stats import clopper_pearson
from ..errors import UserInputError
from .score import ground_truth_by_hash


@dataclass(frozen=True)
class Scenario:
    """A recipe: the synthetic cohort, the training and the audit's configuration overrides."""

    description: str
    synth: dict[str, Any]
    audit: dict[str, Any] = field(default_factory=dict)
    epochs: int = 12
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig options of the audited model


# the repeated runs measure the gate over trainings: the per-audit stability figure is left out
# (statistics.stability_resamples 0) to keep a run at a few minutes
LIGHT_AUDIT = {
    "tiers": ["none", "static", "codes:10", "codes:20"],
    "statistics": {"stability_resamples": 0},
}
SCENARIOS = {
    "seen_once": Scenario(
        "every member seen once, conditions planted by pattern only: nothing repeated",
        {"n_subjects": 1000, "canaries_per_repetition": 0, "random_plant_rate": 0.0},
        LIGHT_AUDIT,
    ),
    "memorizing": Scenario(
        "canaries repeated 1×, 5×, 20×, 50× (20 each), random plants within the horizon",
        {"n_subjects": 1000, "canaries_per_repetition": 20, "canary_plant_window": (12, 30)},
        {**LIGHT_AUDIT, "subjects_per_arm": None, "generation": {"max_new_codes": 48}},
    ),
    "demo": Scenario("`memaudit demo`'s recipe", {"n_subjects": 2000}),
}
# a handful of records the data repeats among members seen once: where a gate reading an average
# over all members says LOW while the repeated records leak (trained plain, and with DP-SGD)
FEW_RECORDS = {"n_subjects": 1000, "canary_repetitions": (20, 50), "canaries_per_repetition": 5}
FEW_RECORDS_AUDIT = {**LIGHT_AUDIT, "subjects_per_arm": None}
SCENARIOS |= {
    "few_records": Scenario(
        "5 records written 20 times and 5 written 50 times among members seen once; trained plain",
        FEW_RECORDS,
        FEW_RECORDS_AUDIT,
    ),
    "few_records_dp8": Scenario(
        "few_records trained with DP-SGD at epsilon 8",
        FEW_RECORDS,
        FEW_RECORDS_AUDIT,
        train={"dp_epsilon": 8.0},
    ),
    "few_records_dp1": Scenario(
        "few_records trained with DP-SGD at epsilon 1",
        FEW_RECORDS,
        FEW_RECORDS_AUDIT,
        train={"dp_epsilon": 1.0},
    ),
}
TRUTH_FPR = 0.01  # a repeated record is identified when its score passes the non-members' 1% FPR threshold
REFERENCE_HOLD_OUT = 0.5


def run_one(
    scenario: str, index: int, run_dir: Path, progress: bool = False, catalogue: dict | None = None
) -> dict:
    """One independent training and audit of `scenario` (from `catalogue`, default SCENARIOS) at
    seed `index`; returns run.json."""
    from ..config import load_config
    from ..pipeline import ModelSource, audit
    from ..synthetic.cohort import SynthConfig, write_cohort
    from ..synthetic.trainer import TrainConfig, train_model
    from .validate import validate

    spec = (catalogue or SCENARIOS)[scenario]
    done = run_dir / "run.json"
    if done.exists():
        return json.loads(done.read_text())
    run_dir.mkdir(parents=True, exist_ok=True)
    data, model, reference = run_dir / "data", run_dir / "model", run_dir / "reference_model"
    seconds: dict[str, float] = {}

    def stage(name: str, finished: Path, make: Any) -> None:
        if finished.exists():
            return
        partial = finished.parent if finished.name in ("config.json", "ground_truth.parquet") else None
        if partial is not None and partial.exists():
            shutil.rmtree(partial)  # a stage killed halfway is redone from scratch
        start = time.perf_counter()
        make()
        seconds[name] = round(time.perf_counter() - start, 1)

    stage(
        "synth",
        data / "ground_truth.parquet",
        lambda: write_cohort(data, SynthConfig(**spec.synth, seed=index), progress=progress),
    )
    stage(
        "train",
        model / "config.json",
        lambda: train_model(
            data, model, TrainConfig(epochs=spec.epochs, seed=index, **spec.train), progress=progress
        ),
    )
    stage(
        "reference",
        reference / "config.json",
        lambda: train_model(
            data,
            reference,
            TrainConfig(epochs=spec.epochs, seed=index, hold_out=REFERENCE_HOLD_OUT, **spec.train),
            progress=progress,
        ),
    )
    config = load_config(overrides={**spec.audit, "seed": index, "reference": {"model": str(reference)}})
    stage(
        "audit",
        run_dir / "audit" / "report.json",
        lambda: audit(
            data, ModelSource(model=model), run_dir / "audit", config, progress=progress, echo=False
        ),
    )
    start = time.perf_counter()
    validation = validate(data, run_dir / "audit", model, progress)
    seconds["placebo_and_scoring"] = round(time.perf_counter() - start, 1)
    report = json.loads((run_dir / "audit" / "report.json").read_text())
    placebo = json.loads((run_dir / "audit" / "placebo" / "report.json").read_text())
    salt = (run_dir / "audit" / "salt.secret").read_text().strip()
    truth = ground_truth_by_hash(pl.read_parquet(data / "ground_truth.parquet"), salt)
    result = {
        "scenario": scenario,
        "index": index,
        "seed": index,
        "seconds": seconds,
        "risk_level": report["risk"]["level"],
        "gate": gate_rule(report),
        "statuses": {name: t["status"] for name, t in report["tests"].items()},
        "t5": t5_summary(report, truth),
        "gaps": gap_summary(report),
        "placebo": {
            "risk_level": placebo["risk"]["level"],
            "statuses": {name: t["status"] for name, t in placebo["tests"].items()},
            "t5_status": placebo["tests"]["T5"]["status"],
            "t5_counts": placebo["tests"]["T5"]["metrics"].get("counts", {}),
            # a placebo T5 that judged no case tested nothing
            "t5_cases_judged": len(placebo["tests"]["T5"]["metrics"].get("cases", [])),
            "gaps": gap_summary(placebo),
        },
        "power_by_repeats": validation["power_by_repeats"],
        "repeated_records": repeated_truth(
            report, pl.read_parquet(run_dir / "audit" / "subjects.parquet"), truth
        ),
        "stability": report["risk"].get("stability"),
    }
    write_json(done, result)
    return result


def repeated_truth(report: dict, subjects: pl.DataFrame, truth: pl.DataFrame) -> dict:
    """What the repeated records truly leak, from the ground truth: how many of the audited
    records that the data repeats (canaries written 2 times or more) pass the non-members' 1% FPR
    threshold of the loss score (the plain attack, fixed in advance), beside what T4's arm said.
    A run whose gate reads low while one is identified is a false LOW."""
    rows = subjects.join(truth.select("subject", "canary_repetitions"), on="subject", how="left")
    non = rows.filter(pl.col("arm") == "non_member")["t4_loss"].drop_nulls().to_numpy()
    repeated = rows.filter((pl.col("arm") == "member") & (pl.col("canary_repetitions") >= 2))
    threshold = float(np.quantile(non, 1 - TRUTH_FPR)) if non.size else float("inf")
    identified = int((repeated["t4_loss"].drop_nulls().to_numpy() > threshold).sum())
    arm = report["tests"]["T4"]["metrics"].get("repeated_records", {})
    return {
        "audited": repeated.height,
        "identified_at_1pct_fpr": identified,
        "non_members": int(non.size),
        "arm_status": arm.get("status"),
        "arm_outcome": arm.get("outcome"),
        "arm_records": arm.get("n_records", 0),
        "arm_line": arm.get("line"),
        "false_low": report["risk"]["level"] == "low" and identified > 0,
    }


def gate_rule(report: dict) -> str:
    """How the audit's FAIL was decided: the gate's alpha and T5's share of it, or the rule before
    the gate's alpha was spent across tests (each test at its own level)."""
    risk = report["config"]["risk"]
    if "gate_alpha" not in risk:
        return "each test at its own level"
    return f"gate_alpha {risk['gate_alpha']:g}, T5 share {risk['gate_t5_share']:g}"


def gap_summary(report: dict) -> dict[str, list[dict]]:
    """T2's and T3's tested gaps with their p-values (for judging the gate's rule on them later)."""
    keys = ("auroc_gap", "auroc_gap_p", "auroc_gap_q", "auroc_gap_holm_p", "significant", "fails")
    out = {}
    for name in ("T2", "T3"):
        by_group = report["tests"].get(name, {}).get("metrics", {}).get("by_group", {})
        out[name] = [
            {"group": group, "tier": tier, **{k: entry.get(k) for k in keys}}
            for group, g in by_group.items()
            for tier, entry in g.get("by_tier", {}).items()
            if "auroc_gap_p" in entry
        ]
    return out


def t5_summary(report: dict, truth: pl.DataFrame) -> dict:
    """T5's verdicts beside the planted truth of each case, and what other decision rules would
    have called memorized on the same cases (for choosing the rule by measurement)."""
    metrics = report["tests"]["T5"]["metrics"]
    kind, repeats = {}, {}
    for row in truth.select("subject", "planted", "canary_repetitions").iter_rows(named=True):
        repeats[row["subject"]] = row["canary_repetitions"] or 0
        for p in row["planted"] or []:
            kind[(row["subject"], p["group"])] = p["kind"]
    cases = []
    for c in metrics.get("cases", []):
        k = kind.get((c["subject"], c["group"]), "not planted")
        r = repeats.get(c["subject"], 0)
        cases.append(
            {
                "truth": "canary_20_plus" if k == "random" and r >= 20 else k if r < 1 else f"{k}_x{r}",
                "verdict": c["verdict"],
                **{key: c.get(key) for key in ("p_value_normal", "p_value_student_t", "p_value_empirical")},
                "z": c.get("z"),
                "effect": None if c.get("p_reference") is None else c["p_audited"] - c["p_reference"],
            }
        )
    tail = metrics.get("null_tail", {})
    return {
        "status": report["tests"]["T5"]["status"],
        "counts": metrics.get("counts", {}),
        "n_null": metrics.get("n_null"),
        "null_z_quantile": metrics.get("null_z_quantile"),
        "p_value_from": tail.get("p_value_from"),
        "tail_df": tail.get("student_t", {}).get("df"),
        "tail_check": {
            model: tail["check"][model]["holds"] for model in ("normal", "student_t") if "check" in tail
        },
        "cases": cases,
        "min_effect": metrics.get("min_effect"),
        "alpha": metrics.get("alpha"),
        "fail_alpha": metrics.get("fail_alpha", metrics.get("alpha")),
    }


def rule_calls(t5: dict) -> dict[str, dict[str, int]]:
    """Per decision rule, the cases it calls memorized by truth: normal p with BH at T5's alpha
    (the rule before this one), then normal, Student t and empirical ranks, each with Holm at T5's
    share of the gate's alpha."""
    from ..audits.stats import benjamini_hochberg, holm

    judged = [c for c in t5["cases"] if c["z"] is not None]
    if not judged:
        return {}
    alpha, min_effect, cut = t5["alpha"], t5["min_effect"], t5["null_z_quantile"]
    fail_alpha = t5.get("fail_alpha", alpha)
    passes = np.array([c["z"] > cut and c["effect"] >= min_effect for c in judged])
    out = {}
    for rule, column, adjust, level in (
        ("normal_bh", "p_value_normal", lambda p: benjamini_hochberg(p, alpha)[1], alpha),
        ("normal_holm", "p_value_normal", holm, fail_alpha),
        ("student_t_holm", "p_value_student_t", holm, fail_alpha),
        ("empirical_holm", "p_value_empirical", holm, fail_alpha),
    ):
        adjusted = adjust(np.array([c[column] for c in judged], float))
        called = [c["truth"] for c, a, ok in zip(judged, adjusted, passes) if ok and a < level]
        out[rule] = dict(Counter(called))
    return out


def _share(k: int, n: int) -> dict:
    lo, hi = clopper_pearson(k, n) if n else (0.0, 1.0)
    return {"k": k, "n": n, "share": k / n if n else None, "ci95": [lo, hi]}


def seen_repeatedly(truth: str) -> bool:
    """Whether a case's patient was in the training data 5 times or more (a ×5, ×20 or ×50
    canary): any condition of such a record the audited model recalls beyond the reference is
    memorization of that record. A patient seen once (a member, or a ×1 canary) has nothing the
    model could have memorized by repetition: calling it memorized is a false call."""
    if truth == "canary_20_plus":
        return True
    _, _, times = truth.rpartition("_x")
    return times.isdigit() and int(times) >= 5


def summarise(runs: list[dict]) -> dict:
    """One scenario's figures over its finished runs (the keys of repeats.json)."""
    n = len(runs)
    t5 = [r["t5"] for r in runs]
    memorized = [sum(c["verdict"] == "memorized" for c in t["cases"]) for t in t5]
    false_memorized = [
        sum(c["verdict"] == "memorized" and not seen_repeatedly(c["truth"]) for c in t["cases"]) for t in t5
    ]
    on_repeated = [
        sum(c["verdict"] == "memorized" and seen_repeatedly(c["truth"]) for c in t["cases"]) for t in t5
    ]
    canaries = [c for t in t5 for c in t["cases"] if c["truth"] == "canary_20_plus" and c["z"] is not None]
    fails = sum(t["status"] == "fail" for t in t5)
    highs = sum(r["risk_level"] == "high" for r in runs)
    rules: dict[str, dict[str, Any]] = {}
    for t in t5:
        for rule, called in rule_calls(t).items():
            entry = rules.setdefault(rule, {"runs_with_a_false_call": 0, "canary_20_plus_called": 0})
            entry["runs_with_a_false_call"] += any(not seen_repeatedly(k) for k in called)
            entry["canary_20_plus_called"] += called.get("canary_20_plus", 0)
    for entry in rules.values():
        entry["false_call_share"] = _share(entry["runs_with_a_false_call"], n)
        entry["canary_recall"] = _share(entry["canary_20_plus_called"], len(canaries))
    seconds = [sum(r["seconds"].values()) for r in runs if r.get("seconds")]
    return {
        "n_runs": n,
        "seeds": [r["seed"] for r in runs],
        "gate_rules": dict(Counter(r.get("gate", "each test at its own level") for r in runs)),
        "risk_levels": dict(Counter(r["risk_level"] for r in runs)),
        "fails_by_test": dict(
            Counter(t for r in runs for t, st in r.get("statuses", {}).items() if st == "fail")
        ),
        "risk_high_share": highs / n if n else None,
        "risk_high_share_ci95": list(clopper_pearson(highs, n)) if n else None,
        "t5_statuses": dict(Counter(t["status"] for t in t5)),
        "t5_fail_share": fails / n if n else None,
        "t5_fail_share_ci95": list(clopper_pearson(fails, n)) if n else None,
        "t5_memorized_per_run": memorized,
        "t5_likely_memorized_per_run": [
            sum(c["verdict"] == "likely_memorized" for c in t["cases"]) for t in t5
        ],
        "t5_false_memorized_per_run": false_memorized,
        "t5_memorized_of_repeated_records_per_run": on_repeated,
        "t5_cases_per_run": [len(t["cases"]) for t in t5],
        "t5_null_cases_per_run": [t["n_null"] for t in t5],
        "t5_p_value_from": dict(Counter(t["p_value_from"] or "no contrast judged" for t in t5)),
        "t5_tail_check_holds": {
            model: sum(bool(t["tail_check"].get(model)) for t in t5) for model in ("normal", "student_t")
        },
        "t5_tail_df_per_run": [t["tail_df"] for t in t5],
        "canary_recall": _share(sum(c["verdict"] == "memorized" for c in canaries), len(canaries)),
        "canary_likely_or_memorized": _share(
            sum(c["verdict"] in ("memorized", "likely_memorized") for c in canaries), len(canaries)
        ),
        "decision_rules_compared": rules,
        "placebo": {
            "risk_levels": dict(Counter(r["placebo"]["risk_level"] for r in runs)),
            "fails_by_test": dict(
                Counter(t for r in runs for t, st in r["placebo"].get("statuses", {}).items() if st == "fail")
            ),
            "t5_statuses": dict(Counter(r["placebo"]["t5_status"] for r in runs)),
            "t5_memorized_per_run": [r["placebo"]["t5_counts"].get("memorized", 0) for r in runs],
        },
        **false_low(runs),
        "seconds_per_run_mean": float(np.mean(seconds)) if seconds else None,
        "seconds_total": float(np.sum(seconds)) if seconds else None,
    }


def false_low(runs: list[dict]) -> dict:
    """The gate's other error: the share of runs reading low while a repeated record is identified
    at 1% FPR by the ground truth (`repeated_truth`), with its interval; runs without the figure
    (scenarios without repeated records, or measured before it) are not counted."""
    scored = [r["repeated_records"] for r in runs if r.get("repeated_records")]
    if not scored or not any(r["audited"] for r in scored):
        return {}
    lows = sum(r["false_low"] for r in scored)
    leaking = sum(r["identified_at_1pct_fpr"] > 0 for r in scored)
    return {
        "false_low_share": _share(lows, len(scored)),
        "runs_with_a_repeated_record_identified": _share(leaking, len(scored)),
        "repeated_identified_per_run": [r["identified_at_1pct_fpr"] for r in scored],
        "repeated_audited_per_run": [r["audited"] for r in scored],
        "arm_outcomes": dict(Counter(r["arm_outcome"] for r in scored)),
    }


def aggregate(out: Path, catalogue: dict | None = None) -> dict:
    """repeats.json from every finished run under `out`."""
    catalogue = catalogue or SCENARIOS
    scenarios = {}
    for name in catalogue:
        found = sorted((out / name).glob("run_*/run.json"), key=lambda p: int(p.parent.name.split("_")[1]))
        if found:
            scenarios[name] = {
                "description": catalogue[name].description,
                **summarise([json.loads(p.read_text()) for p in found]),
            }
    result = {"scenarios": scenarios}
    write_json(out / "repeats.json", result)
    return result


def repeat(
    out: Path,
    n: int,
    scenarios: list[str],
    start: int = 0,
    progress: bool = False,
    keep: bool = False,
    catalogue: dict | None = None,
) -> dict:
    """Runs `start` … `start + n − 1` of each scenario (finished ones reused), then aggregates.
    Unless `keep`, a finished run's cohort, models and caches are deleted (run.json and the
    reports stay). `catalogue` maps scenario names to recipes (default SCENARIOS)."""
    catalogue = catalogue or SCENARIOS
    unknown = [s for s in scenarios if s not in catalogue]
    if unknown or not scenarios:
        raise UserInputError(
            f"--scenario among {', '.join(catalogue)}",
            ", ".join(unknown) or "none",
            "pick scenarios from that list",
        )
    out = Path(out)
    for index in range(start, start + n):
        for name in scenarios:
            run_dir = out / name / f"run_{index}"
            result = run_one(name, index, run_dir, progress, catalogue)
            if not keep:
                for heavy in ("data", "model", "reference_model"):
                    shutil.rmtree(run_dir / heavy, ignore_errors=True)
                for cache in run_dir.glob("audit/**/cache*.sqlite"):
                    cache.unlink()
            print(
                f"{name} run {index}: risk {result['risk_level']}, T5 {result['t5']['status']} "
                f"({result['t5']['counts'].get('memorized', 0)} memorized), "
                f"{sum(result['seconds'].values()):.0f}s",
                flush=True,
            )
            aggregate(out, catalogue)
    return aggregate(out, catalogue)


def format_repeats(result: dict) -> str:
    """repeats.json as Markdown: one table of the gate per scenario, one of the decision rules
    compared on the same cases."""
    ci = lambda lo_hi: f"[{lo_hi[0]:.2f}, {lo_hi[1]:.2f}]"
    share = lambda s: f"{s['k']}/{s['n']} {ci(s['ci95'])}" if s["n"] else "–"
    lines = [
        "| scenario | runs | risk levels | T5 statuses | T5 fail share [95% CI] | memorized per run "
        "| false memorized per run (patients seen once) | canary ×20+ memorized "
        "| tail check holds (normal / t) | placebo T5 "
        "| minutes per run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in result["scenarios"].items():
        held = s["t5_tail_check_holds"]
        minutes = f"{s['seconds_per_run_mean'] / 60:.1f}" if s["seconds_per_run_mean"] else "–"
        lines.append(
            f"| {name} | {s['n_runs']} | {s['risk_levels']} | {s['t5_statuses']} | "
            f"{s['t5_fail_share']:.2f} {ci(s['t5_fail_share_ci95'])} | {s['t5_memorized_per_run']} | "
            f"{s['t5_false_memorized_per_run']} | {share(s['canary_recall'])} | "
            f"{held['normal']} / {held['student_t']} of {s['n_runs']} | {s['placebo']['t5_statuses']} | "
            f"{minutes} |"
        )
    lines += [
        "",
        "| scenario | decision rule | runs with a false memorized call [95% CI] | canary ×20+ called |",
        "|---|---|---|---|",
    ]
    for name, s in result["scenarios"].items():
        for rule, r in s["decision_rules_compared"].items():
            lines.append(
                f"| {name} | {rule} | {share(r['false_call_share'])} | {share(r['canary_recall'])} |"
            )
    return "\n".join(lines)
