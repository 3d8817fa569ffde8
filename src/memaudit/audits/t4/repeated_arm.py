"""T4's repeated-record arm: the members whose record the training data repeats (exact or near
copies), judged by their membership scores against every scored non-member at low false-positive
rates, and reported by repetition band.

Why an arm of their own: memorization grows with duplication (Carlini et al. 2023, "Quantifying
memorization"), and membership attacks succeed mostly on duplicated records (Kandpal et al. 2022).
Counted once each, a few repeated records are a few rows in an average over hundreds of members,
so an AUROC over all members cannot see a model that leaks them; the true-positive rate at a low
false-positive rate can (Carlini et al. 2022, "Membership inference attacks from first principles").

Every function is plain arithmetic over score arrays: higher = more member-like.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats as sps

from ..result import FAIL, PASS, WARN, Status
from ..stats import holm, tpr_at_fpr

# repetition bands: how many times the training data holds the record (the dose a privacy officer reads)
BANDS = (("2-4x", 2, 4), ("5-19x", 5, 19), ("20x+", 20, None))


def band_of(times: int) -> str:
    """The band of a record the data holds `times` times (times >= 2)."""
    return next(name for name, low, high in BANDS if times >= low and (high is None or times <= high))


def exceedance_p(identified: int, n_arm: int, allowed: int, n_non_members: int) -> float:
    """One-sided p-value of at least `identified` of `n_arm` records scoring above the threshold
    that lets `allowed` of `n_non_members` through (the (allowed + 1)-th largest non-member score).

    Null: the n_arm + n_non_members scores are exchangeable (the arm is no more member-like than
    records the model never saw). Sorted together, k arm records precede the (allowed + 1)-th
    non-member exactly when the first k + allowed places hold at least k arm records, so
    P(K >= k) = P(H >= k) with H ~ Hypergeometric(n_arm + n_non_members, n_arm, k + allowed):
    exact, with no assumption on the scores' distribution (ties broken at random)."""
    if identified <= 0:
        return 1.0
    return float(sps.hypergeom.sf(identified - 1, n_arm + n_non_members, n_arm, identified + allowed))


def operating_points(
    arm: np.ndarray, non_members: np.ndarray, fprs: Sequence[float], confidence: float
) -> list[dict]:
    """At each FPR: the threshold on the non-members' scores, how many arm records pass it, the TPR
    with its Clopper-Pearson interval, and the exact p-value (`exceedance_p`); "insufficient" where
    fewer than 10/FPR non-members support the rate.

    arm: (n_arm,) scores of the repeated records; non_members: (n_non_members,) scores."""
    out = []
    for fpr in fprs:
        point = tpr_at_fpr(arm, non_members, fpr, confidence)
        if point["status"] == "ok":
            identified = int(np.sum(arm > point["threshold"]))
            allowed = math.floor(fpr * non_members.size)
            point.update(
                identified=identified,
                n=int(arm.size),
                p_value=exceedance_p(identified, arm.size, allowed, non_members.size),
            )
        out.append(point)
    return out


def by_band(
    arm: np.ndarray, times: np.ndarray, non_members: np.ndarray, fprs: Sequence[float], confidence: float
) -> list[dict]:
    """The operating points within each repetition band (`BANDS`); a band without records says so.

    arm: (n_arm,) scores; times: (n_arm,) how many times the data holds each record."""
    bands = np.array([band_of(int(t)) for t in times])
    out = []
    for name, _, _ in BANDS:
        inside = arm[bands == name]
        entry: dict = {"band": name, "n": int(inside.size)}
        if inside.size:
            entry["points"] = [
                {k: p.get(k) for k in ("fpr", "status", "identified", "tpr", "tpr_ci95")}
                for p in operating_points(inside, non_members, fprs, confidence)
            ]
        out.append(entry)
    return out


def judge_arm(points_by_score: Mapping[str, list[dict]], fail_alpha: float, confidence: float) -> dict:
    """Holm across every (score, operating point) judged; the point with the smallest adjusted p
    decides. FAIL: that adjusted p below `fail_alpha` (the arm's share of the gate's α); WARN: below
    1 − confidence with the TPR's interval above the FPR (repeated records identified beyond
    chance); PASS otherwise. Returns the status, the deciding score and point, and the family size."""
    judged = [
        (score, point)
        for score, points in sorted(points_by_score.items())
        for point in points
        if point["status"] == "ok"
    ]
    if not judged:
        return {"status": PASS, "judged": 0}
    adjusted = holm([point["p_value"] for _, point in judged])
    for (_, point), h in zip(judged, adjusted):
        point["holm_p"] = float(h)
    best = int(np.argmin(adjusted))
    score, point = judged[best]
    above = point["tpr_ci95"][0] > point["fpr"]
    status: Status = PASS
    if above and point["holm_p"] < 1 - confidence:
        status = FAIL if point["holm_p"] < fail_alpha else WARN
    return {"status": status, "score": score, "point": point, "judged": len(judged)}


def arm_line(figures: Mapping) -> str:
    """The arm in one line: "T4 repeated records: 6 of 9 identified at 1% FPR [0.30, 0.93]"."""
    point = figures["decision"]["point"]
    lo, hi = point["tpr_ci95"]
    return (
        f"T4 repeated records: {point['identified']} of {point['n']} identified at {point['fpr']:.3g} FPR "
        f"[{lo:.2f}, {hi:.2f}] ({figures['decision']['score']}, Holm-adjusted p {point['holm_p']:.2g})"
    )


def repeated_arm(
    scores: Mapping[str, Mapping[int, float]],
    times: Mapping[int, int],
    near_copy_similarity: Mapping[int, float | None],
    non_members: Sequence[int],
    fprs: Sequence[float],
    confidence: float,
    fail_alpha: float,
) -> dict:
    """The arm's figures: per score the operating points of the repeated records against every
    non-member, the decision (`judge_arm`) and, for the deciding score, the bands.

    scores: score name -> subject -> value (the scores judged: every score under `t4.primary: auto`,
    paid for by Holm, else the named one); times: repeated member -> copies in the training data."""
    records = sorted(times)
    if not records:
        return {"status": "none found", "n_records": 0, "outcome": PASS}
    non = {name: np.array([v[s] for s in non_members]) for name, v in scores.items()}
    arm = {name: np.array([v[s] for s in records]) for name, v in scores.items()}
    points = {name: operating_points(arm[name], non[name], fprs, confidence) for name in scores}
    decision = judge_arm(points, fail_alpha, confidence)
    figures: dict = {
        "status": "judged" if decision["judged"] else "insufficient",
        "n_records": len(records),
        "n_non_members": len(non_members),
        "near_copies": sum(near_copy_similarity.get(s) is not None for s in records),
        "lowest_near_copy_similarity": min(
            (v for s in records if (v := near_copy_similarity.get(s)) is not None), default=None
        ),
        "by_score": points,
        "fail_alpha": fail_alpha,
        "outcome": decision["status"],
        "null": "the repeated records' scores exchangeable with the non-members' (exact hypergeometric "
        "p-value of the count above each threshold); Holm across every score and operating point judged",
    }
    if not decision["judged"]:
        figures["reason"] = (
            f"{len(non_members)} non-members: no operating point of {', '.join(f'{f:g}' for f in fprs)} "
            "FPR can be estimated (each needs 10/FPR)"
        )
        return figures
    figures["decision"] = {k: decision[k] for k in ("score", "point", "judged")}
    best = decision["score"]
    figures["bands"] = by_band(arm[best], np.array([times[s] for s in records]), non[best], fprs, confidence)
    figures["line"] = arm_line(figures)
    return figures
