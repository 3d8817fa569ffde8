"""Statistics shared by the audits: pure numpy/scipy functions, each tested against a reference."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score_pos > score_neg) + ½ P(tie): the Mann–Whitney form of the ROC area, counted by
    binary search of each positive among the sorted negatives (the bootstraps call it thousands of
    times). pos (n,), neg (m,)."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    if np.isnan(pos).any() or np.isnan(neg).any():
        return float("nan")
    ordered = np.sort(neg)
    below = np.searchsorted(ordered, pos, "left")  # negatives strictly below each positive
    not_above = np.searchsorted(ordered, pos, "right")  # … below or tied
    return float((below.sum() + not_above.sum()) / 2 / (pos.size * neg.size))


def labelled_auroc(rows: np.ndarray) -> float:
    """AUROC of column 0 (score) for column 1 (label > 0) of an (n, 2) array."""
    return auroc(rows[rows[:, 1] > 0, 0], rows[rows[:, 1] == 0, 0])


def auroc_gap(member_rows: np.ndarray, non_member_rows: np.ndarray) -> float:
    """Member AUROC minus non-member AUROC, each over (score, label) rows: bootstrapped per arm."""
    return labelled_auroc(member_rows) - labelled_auroc(non_member_rows)


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision–recall curve as a step function (sklearn's average precision)."""
    labels, scores = np.asarray(labels, bool), np.asarray(scores, float)
    if labels.sum() == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], y.size - 1]
    tp = np.cumsum(y)[distinct]
    fp = (distinct + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / labels.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


@dataclass(frozen=True)
class RowwiseStatistic:
    """A bootstrap statistic with its form over many resamples at once: `one(*samples)` on 1-D
    arrays gives a float, `rows(*samples)` on (n_resamples, n) arrays gives (n_resamples,), row by
    row the same floats (a mean over a contiguous row sums as a mean over the row alone does)."""

    one: Callable[..., float]
    rows: Callable[..., np.ndarray]

    def __call__(self, *samples: np.ndarray) -> float:
        return self.one(*samples)


MEAN = RowwiseStatistic(lambda x: float(np.mean(x)), lambda x: np.mean(x, axis=1))
MEAN_DIFFERENCE = RowwiseStatistic(
    lambda a, b: float(np.mean(a) - np.mean(b)), lambda a, b: np.mean(a, axis=1) - np.mean(b, axis=1)
)
_ROWWISE_CELLS = 1 << 21  # index cells drawn per block of resamples of a RowwiseStatistic


def bootstrap_ci(
    statistic: Callable[..., float],
    samples: Sequence[np.ndarray],
    rng: np.random.Generator,
    n_boot: int = 1000,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile CI resampling each sample (each arm's subjects) independently with replacement.
    A `RowwiseStatistic` is evaluated over blocks of resamples at once, with the same draws in the
    same order, so the interval is the one the one-by-one loop gives."""
    samples = [np.asarray(s) for s in samples]
    if any(len(s) == 0 for s in samples):
        return (float("nan"), float("nan"))
    values = np.empty(n_boot)
    if isinstance(statistic, RowwiseStatistic):
        block = max(1, _ROWWISE_CELLS // sum(len(s) for s in samples))
        for start in range(0, n_boot, block):
            rows = range(start, min(start + block, n_boot))
            if len(samples) == 1:  # one draw of many rows consumes the stream as row-by-row draws do
                drawn = [rng.integers(0, len(samples[0]), (len(rows), len(samples[0])))]
            else:
                drawn = [np.empty((len(rows), len(s)), dtype=np.int64) for s in samples]
                for r in range(len(rows)):
                    for i, s in enumerate(samples):
                        drawn[i][r] = rng.integers(0, len(s), len(s))
            values[rows.start : rows.stop] = statistic.rows(*(s[d] for s, d in zip(samples, drawn)))
    else:
        for b in range(n_boot):
            values[b] = statistic(*(s[rng.integers(0, len(s), len(s))] for s in samples))
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (float("nan"), float("nan"))
    a = (1 - confidence) / 2
    return (float(np.quantile(values, a)), float(np.quantile(values, 1 - a)))


def mann_whitney_p(a: np.ndarray, b: np.ndarray, alternative: str = "two-sided") -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size == 0 or b.size == 0 or (np.ptp(np.r_[a, b]) == 0):
        return 1.0
    return float(sps.mannwhitneyu(a, b, alternative=alternative).pvalue)


def permutation_p(
    a: np.ndarray,
    b: np.ndarray,
    rng: np.random.Generator,
    n_perm: int = 2000,
    statistic: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> float:
    """Two-sided permutation p-value of a difference statistic (default: difference in means)."""
    stat = statistic or (lambda x, y: float(np.mean(x) - np.mean(y)))
    a, b = np.asarray(a, float), np.asarray(b, float)
    observed = abs(stat(a, b))
    pooled = np.r_[a, b]
    hits = 0
    for _ in range(n_perm):
        perm = rng.permutation(pooled)
        hits += abs(stat(perm[: a.size], perm[a.size :])) >= observed - 1e-12
    return (hits + 1) / (n_perm + 1)


def _subset_aurocs(scores: np.ndarray, labels: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """AUROC of `scores` for `labels` within each row's subset (`masks`, shape (k, n)), all rows at
    once: after one sort, a positive's Mann-Whitney count is the subset's negatives below its score
    plus half those tied with it, read off a running count."""
    order = np.argsort(scores, kind="mergesort")
    s, y, m = scores[order], labels[order].astype(bool), masks[:, order]
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]  # first index of each tie group
    group = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, s.size]))
    negatives = np.cumsum(m & ~y, axis=1)
    padded = np.c_[np.zeros(len(m), dtype=negatives.dtype), negatives]
    ends = np.r_[starts[1:], s.size]
    below, through = (
        padded[:, starts[group]],
        padded[:, ends[group]],
    )  # negatives before / through the tie group
    u = ((below + 0.5 * (through - below)) * (m & y)).sum(axis=1)
    n_pos, n_neg = (m & y).sum(axis=1), (m & ~y).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def gap_permutation_p(
    member_rows: np.ndarray,
    non_member_rows: np.ndarray,
    rng: np.random.Generator,
    n_perm: int = 1000,
    chunk: int = 2000,
) -> float:
    """One-sided p-value of `auroc_gap` > 0 when arm labels are exchangeable (no membership
    effect): the subjects' arm labels are permuted, keeping the arm sizes.

    member_rows, non_member_rows: (n_member, 2) and (n_non_member, 2) rows of (score, label).
    A permutation that leaves an arm without positives or without negatives has no gap and is
    left out of the count (the test is conditional on the gap being defined); permutations are
    drawn `chunk` at a time, so memory stays at chunk × n subjects whatever `n_perm`."""
    observed = auroc_gap(member_rows, non_member_rows)
    if not np.isfinite(observed):
        return 1.0
    pooled, n = np.vstack([member_rows, non_member_rows]), len(member_rows)
    scores, labels = pooled[:, 0].astype(float), pooled[:, 1] > 0
    arm = np.zeros(len(pooled), dtype=bool)
    arm[:n] = True
    hits = defined = 0
    for size in np.diff(np.r_[np.arange(0, n_perm, chunk), n_perm]):
        masks = rng.permuted(np.broadcast_to(arm, (size, arm.size)), axis=1)
        gaps = _subset_aurocs(scores, labels, masks) - _subset_aurocs(scores, labels, ~masks)
        defined += int(np.sum(np.isfinite(gaps)))
        hits += int(np.sum(np.isfinite(gaps) & (gaps >= observed - 1e-12)))
    return (hits + 1) / (defined + 1)


def residual_risk(member_rate: float, non_member_rate: float) -> float:
    """(r_m − r_n) / (1 − r_n): what the model gives away beyond what it tells about anyone."""
    if not np.isfinite(member_rate) or not np.isfinite(non_member_rate):
        return float("nan")
    if non_member_rate >= 1:
        return 0.0
    return float((member_rate - non_member_rate) / (1 - non_member_rate))


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    a = 1 - confidence
    lo = 0.0 if k == 0 else float(sps.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(sps.beta.ppf(1 - a / 2, k + 1, n - k))
    return (lo, hi)


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    z = sps.norm.ppf(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def benjamini_hochberg(pvalues: Sequence[float], q: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Returns (rejected, adjusted p-values) controlling the false discovery rate at q."""
    p = np.asarray(pvalues, float)
    if p.size == 0:
        return np.zeros(0, bool), np.zeros(0)
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted_sorted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    adjusted = np.empty_like(adjusted_sorted)
    adjusted[order] = adjusted_sorted
    return adjusted <= q, adjusted


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values: rejecting where adjusted < alpha controls the chance of
    any false rejection among the family at alpha (family-wise error), under any dependence."""
    p = np.asarray(pvalues, float)
    if p.size == 0:
        return np.zeros(0)
    order = np.argsort(p, kind="mergesort")
    stepped = np.maximum.accumulate(p[order] * (p.size - np.arange(p.size))).clip(max=1.0)
    adjusted = np.empty_like(stepped)
    adjusted[order] = stepped
    return adjusted


MIN_NEGATIVES_PER_FPR = 10  # an operating point at FPR f needs at least 10 / f non-members


def tpr_at_fpr(pos: np.ndarray, neg: np.ndarray, fpr: float, confidence: float = 0.95) -> dict:
    """TPR at the threshold that lets at most `fpr` of non-members through, with the achieved FPR
    and both rates' Clopper-Pearson intervals.

    "insufficient" with fewer than 10 / fpr non-members: with 1 / fpr of them the achieved FPR of
    the threshold ranges over a factor of several between samples."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    need = math.ceil(MIN_NEGATIVES_PER_FPR / fpr)
    if neg.size < need:
        return {
            "fpr": fpr,
            "status": "insufficient",
            "tpr": None,
            "tpr_ci95": None,
            "achieved_fpr": None,
            "achieved_fpr_ci95": None,
            "reason": f"{neg.size} non-members; at least {need} are needed for FPR {fpr:g}",
        }
    allowed = math.floor(fpr * neg.size)
    threshold = float(np.sort(neg)[::-1][allowed]) if allowed < neg.size else -np.inf
    k, k_neg = int(np.sum(pos > threshold)), int(np.sum(neg > threshold))
    return {
        "fpr": fpr,
        "status": "ok",
        "threshold": threshold,
        "tpr": k / max(pos.size, 1),
        "tpr_ci95": list(clopper_pearson(k, pos.size, confidence)),
        "achieved_fpr": k_neg / neg.size,
        "achieved_fpr_ci95": list(clopper_pearson(k_neg, neg.size, confidence)),
    }


def roc_curve(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) at every distinct threshold, from (0, 0) to (1, 1)."""
    scores = np.r_[pos, neg]
    labels = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], y.size - 1]
    tp = np.cumsum(y)[distinct]
    fp = (distinct + 1) - tp
    return np.r_[0.0, fp / max(len(neg), 1)], np.r_[0.0, tp / max(len(pos), 1)]


def _epsilon_of(tpr_lo: float, fpr_hi: float, delta: float) -> float:
    """The ε that (ε, δ)-DP must exceed for an attack whose pessimistic Clopper-Pearson ends are
    (TPR_lo, FPR_hi) at one threshold: max over the two DP inequalities TPR ≤ e^ε FPR + δ and
    1 − FPR ≤ e^ε (1 − TPR) + δ; 0 when neither certifies anything."""
    best = 0.0
    for num, den in ((tpr_lo - delta, fpr_hi), (1 - fpr_hi - delta, 1 - tpr_lo)):
        if num > 0 and den > 0:
            best = max(best, math.log(num / den))
    return best


def _epsilon_at(kp: int, n_pos: int, kn: int, n_neg: int, delta: float, confidence: float) -> float:
    """`_epsilon_of` for an attack with these counts above one threshold."""
    tpr_lo = clopper_pearson(kp, n_pos, confidence)[0]
    fpr_hi = clopper_pearson(kn, n_neg, confidence)[1]
    return _epsilon_of(tpr_lo, fpr_hi, delta)


def _counts_at_or_above(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many of `scores` are ≥ each threshold. scores: (n,), thresholds: (t,) → (t,)."""
    return scores.size - np.searchsorted(np.sort(scores), thresholds, side="left")


def _clopper_pearson_ends(k: np.ndarray, n: int, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """`clopper_pearson(k, n)`'s lower and upper ends for every count in `k` at once (the same
    values: one vectorised call of the same beta quantile)."""
    a = 1 - confidence
    k = np.asarray(k, float)
    lo, hi = np.zeros(k.size), np.ones(k.size)
    inner = k > 0
    lo[inner] = sps.beta.ppf(a / 2, k[inner], n - k[inner] + 1)
    inner = k < n
    hi[inner] = sps.beta.ppf(1 - a / 2, k[inner] + 1, n - k[inner])
    return lo, hi


def epsilon_lower_bound(
    pos: np.ndarray, neg: np.ndarray, rng: np.random.Generator, delta: float = 1e-5, confidence: float = 0.95
) -> dict:
    """A heuristic empirical ε lower bound (Jagielski et al., 2020) that pays for its choice of
    threshold: each arm is split in halves (seeded); the threshold with the largest bound on the
    first halves is certified on the second halves alone.

    Under the null (scores of members and non-members exchangeable) the certified bound is 0 in
    at least `confidence` of audits: one threshold, fixed before the second halves are seen, is
    tested against Clopper-Pearson ends. It is a lower bound for this training run and split, not
    a DP audit. pos, neg: (n_members,), (n_non_members,) attack scores, higher = more member-like."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if pos.size < 4 or neg.size < 4:
        return {"epsilon": 0.0, "threshold": None, "status": "insufficient"}
    p_perm, n_perm = rng.permutation(pos.size), rng.permutation(neg.size)
    p_sel, p_cert = pos[p_perm[: pos.size // 2]], pos[p_perm[pos.size // 2 :]]
    n_sel, n_cert = neg[n_perm[: neg.size // 2]], neg[n_perm[neg.size // 2 :]]
    thresholds = np.unique(np.r_[p_sel, n_sel])
    tpr_lo = _clopper_pearson_ends(_counts_at_or_above(p_sel, thresholds), p_sel.size, confidence)[0]
    fpr_hi = _clopper_pearson_ends(_counts_at_or_above(n_sel, thresholds), n_sel.size, confidence)[1]
    best_t, best = None, -1.0
    for t, lo, hi in zip(thresholds.tolist(), tpr_lo.tolist(), fpr_hi.tolist()):
        e = _epsilon_of(lo, hi, delta)
        if e > best:
            best_t, best = t, e
    certified = _epsilon_at(
        int(np.sum(p_cert >= best_t)),
        p_cert.size,
        int(np.sum(n_cert >= best_t)),
        n_cert.size,
        delta,
        confidence,
    )
    return {"epsilon": certified, "threshold": best_t, "status": "ok", "selection_half_epsilon": best}


def compare_arms(
    member: np.ndarray, non_member: np.ndarray, rng: np.random.Generator, n_boot: int, confidence: float
) -> dict:
    """Means of a per-subject metric in each arm, their CIs, the difference's CI and p-value."""
    member, non_member = np.asarray(member, float), np.asarray(non_member, float)
    mean = lambda x: float(np.mean(x)) if len(x) else float("nan")
    return {
        "member": mean(member),
        "member_ci95": list(bootstrap_ci(MEAN, [member], rng, n_boot, confidence)),
        "non_member": mean(non_member),
        "non_member_ci95": list(bootstrap_ci(MEAN, [non_member], rng, n_boot, confidence)),
        "difference": mean(member) - mean(non_member),
        "difference_ci95": list(bootstrap_ci(MEAN_DIFFERENCE, [member, non_member], rng, n_boot, confidence)),
        "p_value": mann_whitney_p(member, non_member),
        "n_member": int(member.size),
        "n_non_member": int(non_member.size),
    }
