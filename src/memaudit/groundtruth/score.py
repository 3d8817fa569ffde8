"""Scoring an audit against the synthetic cohort's ground truth (pure functions of tables)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from ..audits.stats import clopper_pearson
from ..audits.t5.decision import VERDICTS
from ..report.privacy import subject_hash


def ground_truth_by_hash(ground_truth: pl.DataFrame, salt: str) -> pl.DataFrame:
    return ground_truth.with_columns(
        pl.col("subject_id")
        .map_elements(lambda s: subject_hash(salt, s), return_dtype=pl.String)
        .alias("subject")
    )


def t4_threshold(report: dict, subjects: pl.DataFrame, fpr: float = 0.01) -> tuple[str, float | None]:
    """The primary T4 score and its threshold at `fpr` among the audit's non-members (the score
    that lets through at most that share of them), read off subjects.parquet; None without
    non-members. Validation scores the audit, so it takes the threshold even where the report
    calls the operating point too thin to estimate."""
    score = report["tests"]["T4"]["metrics"]["primary_score"]
    neg = np.sort(subjects.filter(pl.col("arm") == "non_member")[f"t4_{score}"].drop_nulls().to_numpy())[::-1]
    if neg.size == 0:
        return score, None
    allowed = int(np.floor(fpr * neg.size))
    return score, float(neg[allowed]) if allowed < neg.size else float("-inf")


def exposure(canary_score: float, reference_scores: np.ndarray) -> float:
    """Secret Sharer exposure (Carlini et al., 2019): log2 |R| − log2 rank, where the canary is
    ranked among the reference candidates (here: non-members) by how member-like it scores."""
    rank = 1 + int(np.sum(reference_scores > canary_score))
    return float(math.log2(reference_scores.size + 1) - math.log2(rank))


def power_and_exposure(subjects: pl.DataFrame, gt: pl.DataFrame, report: dict) -> dict:
    best, thr = t4_threshold(report, subjects)
    col = f"t4_{best}"
    joined = subjects.join(gt.select("subject", "canary_repetitions", "planted"), on="subject", how="left")
    ref = joined.filter(pl.col("arm") == "non_member")[col].to_numpy()
    recovery_cols = [c for c in subjects.columns if c.startswith("t1_recovery__")]
    t1_cut = {
        c: float(np.quantile(joined.filter(pl.col("arm") == "non_member")[c].drop_nulls().to_numpy(), 0.99))
        for c in recovery_cols
        if joined.filter(pl.col("arm") == "non_member")[c].drop_nulls().len()
    }
    flagged = {f["subject"]: f["tests"] for f in report["flagged_subjects"]}
    power, expo, t1_power, t2_power, counts = {}, {}, {}, {}, {}
    canaries = joined.filter(pl.col("canary_repetitions") > 0)
    for r in sorted(canaries["canary_repetitions"].unique().to_list()):
        rows = canaries.filter(pl.col("canary_repetitions") == r)
        scores = rows[col].to_numpy()
        counts[str(r)] = rows.height
        power[str(r)] = float(np.mean(scores > thr)) if thr is not None else None
        expo[str(r)] = float(np.mean([exposure(s, ref) for s in scores]))
        t1_hits = []
        for row in rows.iter_rows(named=True):
            t1_hits.append(any(row[c] is not None and row[c] > cut for c, cut in t1_cut.items()))
        t1_power[str(r)] = float(np.mean(t1_hits))
        t2_hits = []
        for row in rows.iter_rows(named=True):
            groups = {p["group"] for p in (row["planted"] or []) if p["kind"] == "random"}
            tests = flagged.get(row["subject"], [])
            t2_hits.append(any(t.startswith(f"T2:{g}@") for g in groups for t in tests))
        t2_power[str(r)] = float(np.mean(t2_hits))
    return {
        "power_by_repeats": power,
        "exposure_by_repeats": expo,
        "t1_power_by_repeats": t1_power,
        "t2_power_by_repeats": t2_power,
        "canaries_audited_by_repeats": counts,
        "t4_score": best,
        "t4_threshold_at_1pct_fpr": thr,
    }


PLACEBO_SCORE = "loss"  # fixed before any data is seen: the placebo's p-values pay for no choice


def placebo_summary(subjects: pl.DataFrame, report: dict) -> dict:
    """False flags and p-value calibration when the 'members' were never seen.

    The per-subject p-values and false flags use the loss score, fixed in advance: the attack the
    audit picks is the largest of several on these very subjects, and would inflate them under the
    null. The AUROC and its interval are the audit's own decision (simultaneous over the attacks)."""
    best = PLACEBO_SCORE
    neg_sorted = np.sort(
        subjects.filter(pl.col("arm") == "non_member")[f"t4_{best}"].drop_nulls().to_numpy()
    )[::-1]
    thr = float(neg_sorted[int(np.floor(0.01 * neg_sorted.size))]) if neg_sorted.size else None
    col = f"t4_{best}"
    posing = subjects.filter(pl.col("arm") == "member")[col].to_numpy()
    others = subjects.filter(pl.col("arm") == "non_member")[col].to_numpy()
    p_values = np.array([(1 + np.sum(others >= s)) / (1 + others.size) for s in posing])
    share = _share_below_0_05(posing, others)
    k, n = int(np.sum(p_values < 0.05)), int(p_values.size)
    lo, hi, percentile = _resplit_range(posing, others)
    t4_flags = posing > thr if thr is not None else np.zeros(posing.size, bool)
    memorized = {
        f["subject"] for f in report["flagged_subjects"] if any(t.startswith("T5:") for t in f["tests"])
    }
    posing_hashes = subjects.filter(pl.col("arm") == "member")["subject"].to_list()
    t5_flags = np.array([h in memorized for h in posing_hashes])
    t4m = report["tests"]["T4"]["metrics"]["decision"]
    by_test = {name: binomial_share(ps) for name, ps in placebo_p_values(report).items()}
    return {
        "t4_auroc": t4m["auroc"],
        "t4_auroc_ci95": t4m["auroc_ci95"],
        "t4_score": best,
        "false_flag_rate": float(np.mean(t4_flags | t5_flags)) if n else 0.0,
        "share_p_below_0_05": share,
        "share_p_below_0_05_acceptance95": [lo, hi],
        "split_auroc_percentile": percentile,
        "n_posing_members": n,
        "n_p_below_0_05": k,
        "risk_level": report["risk"]["level"],
        "t5_memorized": report["tests"]["T5"]["metrics"].get("counts", {}).get("memorized", 0),
        "p_values_by_test": by_test,
        "epsilon_zero_share": epsilon_zero_share(subjects, best),
        "t4_decision_score": report["tests"]["T4"]["metrics"]["primary_score"],
    }


def _share_below_0_05(posing: np.ndarray, others: np.ndarray) -> float:
    """Share of posing members whose rank p-value against the other half is below 0.05."""
    p = (1 + (others[None, :] >= posing[:, None]).sum(1)) / (1 + others.size)
    return float(np.mean(p < 0.05)) if posing.size else 0.0


def _resplit_range(posing: np.ndarray, others: np.ndarray, splits: int = 2000) -> tuple[float, float, float]:
    """The central 95% range of the share of p < 0.05 over random splits of the same placebo
    subjects into halves of these sizes, and the percentile of this split's loss AUROC among them.

    The members' p-values share one reference half, so the share varies more than a binomial
    count: its null distribution is the permutation one (exact when the two halves are
    exchangeable, which the placebo makes true)."""
    from ..audits.stats import auroc

    pooled = np.concatenate([posing, others])
    rng = np.random.default_rng([len(pooled), 405])
    shares, aurocs = [], []
    for _ in range(splits):
        order = rng.permutation(pooled.size)
        a, b = pooled[order[: posing.size]], pooled[order[posing.size :]]
        shares.append(_share_below_0_05(a, b))
        aurocs.append(auroc(a, b))
    observed = auroc(posing, others)
    lo, hi = np.quantile(shares, [0.025, 0.975])
    return float(lo), float(hi), float(np.mean(np.asarray(aurocs) < observed))


def _binomial_acceptance(n: int, p: float) -> tuple[float, float]:
    """Central 95% range of the share of successes in n trials at rate p."""
    from scipy.stats import binom

    if n == 0:
        return (0.0, 1.0)
    return (float(binom.ppf(0.025, n, p) / n), float(binom.ppf(0.975, n, p) / n))


def t5_accuracy(report: dict, gt: pl.DataFrame) -> dict:
    """T5 verdicts against the planting. What only memorization explains: the random plant of a
    canary repeated 20× or more, flagged within the horizon (T2's label) and replicated with fresh
    samples; what any model infers: a condition planted by pattern. Members seen once (or
    repeated 5×) with a random plant are reported as information: a model may or may not recall
    one record seen a few times. The `_all_cases` shares count flags that did not replicate too."""
    cases = report["tests"]["T5"]["metrics"].get("cases", [])
    kinds, repeats = {}, {}
    for row in gt.select("subject", "planted", "canary_repetitions").iter_rows(named=True):
        repeats[row["subject"]] = row["canary_repetitions"] or 0
        for p in row["planted"] or []:
            kinds[(row["subject"], p["group"])] = p["kind"]
    replicated = [c for c in cases if c["verdict"] != "not_replicated"]
    of_kind = lambda xs, k: [c for c in xs if kinds.get((c["subject"], c["group"])) == k]
    share = lambda xs, v: float(np.mean([c["verdict"] == v for c in xs])) if xs else None
    ci = lambda xs, v: list(clopper_pearson(sum(c["verdict"] == v for c in xs), len(xs)))
    counts = lambda xs: {v: sum(c["verdict"] == v for c in xs) for v in VERDICTS}
    random_rep, pattern_rep = of_kind(replicated, "random"), of_kind(replicated, "pattern")
    random_all, pattern_all = of_kind(cases, "random"), of_kind(cases, "pattern")
    canaries = [c for c in random_rep if repeats.get(c["subject"], 0) >= 20]
    fewer = [c for c in random_rep if repeats.get(c["subject"], 0) < 20]
    return {
        "canary_20_plus_labelled_memorized": share(canaries, "memorized"),
        "canary_20_plus_ci95": ci(canaries, "memorized"),
        "n_canary_20_plus_cases": len(canaries),
        "pattern_labelled_memorized": share(pattern_rep, "memorized"),
        "pattern_memorized_ci95": ci(pattern_rep, "memorized"),
        "pattern_labelled_generalized": share(pattern_rep, "generalized"),
        "pattern_cases_ci95": ci(pattern_rep, "generalized"),
        "n_pattern_cases": len(pattern_rep),
        "random_below_20_repeats_verdicts": counts(fewer),
        "random_labelled_memorized": share(random_rep, "memorized"),
        "random_cases_ci95": ci(random_rep, "memorized"),
        "n_random_cases": len(random_rep),
        "n_cases": len(cases),
        "n_replicated": len(replicated),
        "mode": report["tests"]["T5"]["metrics"].get("mode"),
        "random_labelled_memorized_all_cases": share(random_all, "memorized"),
        "pattern_labelled_generalized_all_cases": share(pattern_all, "generalized"),
        "n_random_all_cases": len(random_all),
        "n_pattern_all_cases": len(pattern_all),
        "verdicts_of_random": counts(random_all),
    }


def binomial_share(p_values: list[float]) -> dict:
    """The share of p-values below 0.05 and its central 95% range if they are uniform."""
    n = len(p_values)
    lo, hi = _binomial_acceptance(n, 0.05)
    share = float(np.mean(np.asarray(p_values) < 0.05)) if n else 0.0
    return {"n": n, "share_below_0_05": share, "acceptance95": [lo, hi], "within": bool(lo <= share <= hi)}


def placebo_p_values(report: dict) -> dict[str, list[float]]:
    """Every p-value T1, T2 and T6 computed in an audit, by test."""
    tests = report["tests"]
    out: dict[str, list[float]] = {"T1": [], "T2": [], "T6": []}
    for entry in tests["T1"]["metrics"].get("by_tier", {}).values():
        if entry.get("recovery", {}).get("p_value_greater") is not None:
            out["T1"].append(entry["recovery"]["p_value_greater"])
    for group in tests["T2"]["metrics"].get("by_group", {}).values():
        for entry in group["by_tier"].values():
            if entry.get("auroc_gap_p") is not None and entry.get("status") == "ok":
                out["T2"].append(entry["auroc_gap_p"])
    for sub in tests["T6"]["metrics"].get("by_subgroup", {}).values():
        for entry in sub.values():
            if isinstance(entry, dict) and entry.get("status") == "ok":
                out["T6"].append(entry["p_value"])
    return out


def epsilon_zero_share(subjects: pl.DataFrame, score: str, seeds: int = 200, delta: float = 1e-5) -> float:
    """Over `seeds` independent splits, the share of placebo audits whose ε bound is 0."""
    from ..audits.stats import epsilon_lower_bound

    pos = subjects.filter(pl.col("arm") == "member")[f"t4_{score}"].drop_nulls().to_numpy()
    neg = subjects.filter(pl.col("arm") == "non_member")[f"t4_{score}"].drop_nulls().to_numpy()
    zero = [
        epsilon_lower_bound(pos, neg, np.random.default_rng([seed, 97]), delta)["epsilon"] == 0
        for seed in range(seeds)
    ]
    return float(np.mean(zero))
