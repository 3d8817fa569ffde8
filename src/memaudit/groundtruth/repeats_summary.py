"""repeats.json's figures: one scenario's runs summarised (the gate's rates with their intervals,
T5's calls by planted truth, the decision rules compared on the same cases, the placebo's false
FAILs, the false LOW), and the Markdown tables `memaudit validate --repeat` prints."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ..audits.stats import clopper_pearson


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
            **placebo_false_fails(runs),
        },
        **false_low(runs),
        "seconds_per_run_mean": float(np.mean(seconds)) if seconds else None,
        "seconds_total": float(np.sum(seconds)) if seconds else None,
    }


def placebo_audits_of(run: dict) -> list[dict]:
    """A run's placebo verdicts, draw by draw (a run from before draws were recorded: its one)."""
    return run.get("placebo_draws") or [run["placebo"]]


def placebo_false_fails(runs: list[dict]) -> dict:
    """The gate's false FAIL over every placebo audit (risk high where both arms are unseen), with
    its interval, and the same per training: several draws of one model are not independent
    trainings, so the share of trainings with a false FAIL is given beside it."""
    by_training = [placebo_audits_of(r) for r in runs]
    audits = [v for draws in by_training for v in draws]
    high = lambda v: v["risk_level"] == "high"
    # runs audited before T5's version 3 failed on its memorized calls: their level with them warning
    other_fail = lambda v: any(s == "fail" for t, s in v.get("statuses", {}).items() if t != "T5")
    high_if_t5_warns = lambda v: high(v) and (other_fail(v) or v.get("statuses", {}).get("T5") != "fail")
    judged = [v for v in audits if v.get("t5_cases_judged", 0) > 0]
    t5_calls = [v.get("t5_counts", {}).get("memorized", 0) for v in audits]
    return {
        "audits": len(audits),
        "trainings": len(by_training),
        "false_fail": _share(sum(map(high, audits)), len(audits)),
        "trainings_with_a_false_fail": _share(sum(any(map(high, d)) for d in by_training), len(by_training)),
        "false_fails_per_training": [sum(map(high, d)) for d in by_training],
        "false_fail_with_t5_warning": _share(sum(map(high_if_t5_warns, audits)), len(audits)),
        "trainings_with_a_false_fail_with_t5_warning": _share(
            sum(any(map(high_if_t5_warns, d)) for d in by_training), len(by_training)
        ),
        "false_fail_where_t5_judged_cases": _share(sum(map(high, judged)), len(judged)),
        "t5_memorized_calls_per_audit": t5_calls,
        # what `t5.fails_gate: true` would fail: placebo audits with a T5 memorized call
        "audits_with_a_t5_memorized_call": _share(sum(c > 0 for c in t5_calls), len(audits)),
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


def format_repeats(result: dict) -> str:
    """repeats.json as Markdown: one table of the gate per scenario, one of the decision rules
    compared on the same cases."""
    ci = lambda lo_hi: f"[{lo_hi[0]:.2f}, {lo_hi[1]:.2f}]"
    share = lambda s: f"{s['k']}/{s['n']} {ci(s['ci95'])}" if s["n"] else "–"
    lines = [
        "| scenario | runs | risk levels | T5 statuses | T5 fail share [95% CI] | memorized per run "
        "| false memorized per run (patients seen once) | canary ×20+ memorized "
        "| tail check holds (normal / t) | placebo T5 | placebo false FAIL (audits) [95% CI] "
        "| minutes per run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in result["scenarios"].items():
        held = s["t5_tail_check_holds"]
        minutes = f"{s['seconds_per_run_mean'] / 60:.1f}" if s["seconds_per_run_mean"] else "–"
        lines.append(
            f"| {name} | {s['n_runs']} | {s['risk_levels']} | {s['t5_statuses']} | "
            f"{s['t5_fail_share']:.2f} {ci(s['t5_fail_share_ci95'])} | {s['t5_memorized_per_run']} | "
            f"{s['t5_false_memorized_per_run']} | {share(s['canary_recall'])} | "
            f"{held['normal']} / {held['student_t']} of {s['n_runs']} | {s['placebo']['t5_statuses']} | "
            f"{share(s['placebo']['false_fail'])} | {minutes} |"
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
