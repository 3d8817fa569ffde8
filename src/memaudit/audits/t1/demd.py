"""dEMD: earth mover's distance between two code sequences, each a uniform distribution over its
positions, with a semantic and time-aware ground cost

    cost(i, j) = 1 − sim(a_i, b_j) · exp(−|t_i − t_j| / scale)

where sim is the clipped cosine of the codes' embeddings (1 for equal codes) and t is the elapsed
time since the prompt: the true continuation's real timestamps, and for a sample the sum of the
days its time-gap codes stand for (`gap_days`). Without time-gap codes a sample has no times, and
the cost is 1 − sim (time weighting off). The cost lies in [0, 1]: identical sequences are at 0
and sequences of unrelated codes at 1, the maximum."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment, linprog

from ..code_embeddings import normalised_matrix

GapDays = Callable[[str], "float | None"]


def elapsed_days(codes: Sequence[str], gap_days: GapDays) -> np.ndarray:
    """Days since the prompt at each code, adding up the days of the time-gap codes."""
    out, t = np.zeros(len(codes)), 0.0
    for i, c in enumerate(codes):
        t += gap_days(c) or 0.0
        out[i] = t
    return out


def cost_matrix(
    a: Sequence[str],
    b: Sequence[str],
    embeddings: Mapping[str, np.ndarray],
    time_scale_days: float,
    a_days: np.ndarray | None = None,
    b_days: np.ndarray | None = None,
) -> np.ndarray:
    """(len(a), len(b)) costs; without both sequences' days, time weighting is off."""
    ea, eb = normalised_matrix(a, embeddings), normalised_matrix(b, embeddings)
    sim = np.clip(ea @ eb.T, 0.0, 1.0)
    sim[np.equal.outer(np.asarray(a, object), np.asarray(b, object))] = 1.0
    if a_days is None or b_days is None:
        return 1.0 - sim
    dt = np.abs(np.asarray(a_days)[:, None] - np.asarray(b_days)[None, :])
    return 1.0 - sim * np.exp(-dt / time_scale_days)


def emd_uniform(cost: np.ndarray) -> float:
    """Optimal transport cost between uniform weights on rows and columns.

    Equal sizes reduce to an assignment problem (Birkhoff: an optimal plan is a permutation);
    otherwise solve the transport linear program."""
    n, m = cost.shape
    if n == 0 or m == 0:
        return 0.0 if n == m else 1.0
    if n == m:
        r, c = linear_sum_assignment(cost)
        return float(cost[r, c].mean())
    a_eq = np.zeros((n + m, n * m))
    for i in range(n):
        a_eq[i, i * m : (i + 1) * m] = 1.0
    for j in range(m):
        a_eq[n + j, j::m] = 1.0
    b_eq = np.r_[np.full(n, 1.0 / n), np.full(m, 1.0 / m)]
    res = linprog(cost.ravel(), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    return float(res.fun)


def demd(
    a: Sequence[str],
    b: Sequence[str],
    embeddings: Mapping[str, np.ndarray],
    time_scale_days: float = 90.0,
    gap_days: GapDays | None = None,
) -> float:
    """dEMD of two code sequences whose times are read from their time-gap codes (`gap_days`;
    None: time weighting off)."""
    if gap_days is None:
        return emd_uniform(cost_matrix(a, b, embeddings, time_scale_days))
    days = elapsed_days(a, gap_days), elapsed_days(b, gap_days)
    return emd_uniform(cost_matrix(a, b, embeddings, time_scale_days, *days))


END = "[END]"


def horizon_demd(
    sample: Sequence[str],
    truth: Sequence[str],
    embeddings: Mapping[str, np.ndarray],
    time_scale_days: float = 90.0,
    truth_days: np.ndarray | None = None,
    gap_days: GapDays | None = None,
) -> float:
    """dEMD over the truth's horizon: the sample is cut to the truth's length, or padded with an
    end-of-record marker (maximal cost against any code) where the model stopped early. Equal
    lengths make the transport an assignment problem, solved exactly and fast. `truth_days`: the
    truth's real days since the prompt; `gap_days`: how the sample's time-gap codes read (both
    needed for time weighting)."""
    n = len(truth)
    aligned = list(sample[:n]) + [END] * max(0, n - len(sample))
    if truth_days is None or gap_days is None:
        return emd_uniform(cost_matrix(aligned, truth, embeddings, time_scale_days))
    sample_days = elapsed_days(aligned, gap_days)
    return emd_uniform(cost_matrix(aligned, truth, embeddings, time_scale_days, sample_days, truth_days[:n]))


def horizon_demd_many(
    samples: Sequence[Sequence[str]],
    truth: Sequence[str],
    embeddings: Mapping[str, np.ndarray],
    time_scale_days: float = 90.0,
    truth_days: np.ndarray | None = None,
    gap_days: GapDays | None = None,
) -> np.ndarray:
    """`horizon_demd` of each sample against one truth, (n_samples,): the (n_samples, n, n) costs
    are built in one array operation over the codes' embeddings, then each assignment is solved.
    T1 compares every sample of a prompt with the same truth, so this is its path."""
    n = len(truth)
    if not samples:
        return np.zeros(0)
    if n == 0:
        return np.zeros(len(samples))
    aligned = [list(s[:n]) + [END] * max(0, n - len(s)) for s in samples]
    codes = sorted({c for a in aligned for c in a} | set(truth))
    index = {c: i for i, c in enumerate(codes)}
    unit = normalised_matrix(codes, embeddings)
    a_idx = np.array([[index[c] for c in a] for a in aligned])  # (S, n)
    t_idx = np.array([index[c] for c in truth])  # (n,)
    sim = np.clip(unit[a_idx] @ unit[t_idx].T, 0.0, 1.0)  # (S, n, n)
    sim[a_idx[:, :, None] == t_idx[None, None, :]] = 1.0
    if truth_days is not None and gap_days is not None:
        sample_days = np.array([elapsed_days(a, gap_days) for a in aligned])  # (S, n)
        dt = np.abs(sample_days[:, :, None] - np.asarray(truth_days[:n])[None, None, :])
        sim = sim * np.exp(-dt / time_scale_days)
    cost = 1.0 - sim
    out = np.empty(len(aligned))
    for k in range(len(aligned)):
        r, c = linear_sum_assignment(cost[k])
        out[k] = cost[k][r, c].mean()
    return out
