"""What `memaudit compare` measures in each run, from its subjects.parquet, and the difference.

Each measure is a statistic of one per-subject column, members against non-members, whose larger
value means more leakage:

- `T4 <score> AUROC`: members against non-members on each membership score both runs have
  (higher = member): the score that decides may differ between the runs, so every one is compared;
- `T1 recovery gap @tier`: mean recovery of members minus non-members;
- `T2 <group>@tier gap`: mean p̂ (share of samples regenerating the removed condition) of members
  minus non-members.

Tier `none` is left out: every subject shares its one (empty) prompt, so its per-subject values
move together from run to run and resampling subjects cannot see that noise.

`difference` bootstraps measure(B) − measure(A): **paired** when the runs audited the same
subjects (the same resample of subjects in both, which cancels the subjects' own variation) and
**independent** otherwise (each run resampled on its own), stratified by arm either way. Its
one-sided p-value is the bootstrap share of differences at or below the margin (null: B leaks at
most `margin` more than A), smoothed by one resample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..audits.stats import auroc

MEMBER = "member"
Statistic = Callable[[np.ndarray, np.ndarray], float]  # (member values, non-member values) -> float


def _finite(x: np.ndarray) -> np.ndarray:
    return x[np.isfinite(x)]


def auroc_statistic(member: np.ndarray, non_member: np.ndarray) -> float:
    return auroc(_finite(member), _finite(non_member))


def gap_statistic(member: np.ndarray, non_member: np.ndarray) -> float:
    m, n = _finite(member), _finite(non_member)
    return float(m.mean() - n.mean()) if m.size and n.size else float("nan")


@dataclass(frozen=True)
class Measure:
    column: str
    statistic: Statistic


def measures(a: pl.DataFrame, b: pl.DataFrame) -> dict[str, Measure]:
    """The measures both runs can be compared on, by name."""
    out: dict[str, Measure] = {}
    for column in sorted(c for c in set(a.columns) & set(b.columns) if not c.endswith("__none")):
        if column.startswith("t4_"):
            out[f"T4 {column[3:]} AUROC"] = Measure(column, auroc_statistic)
        elif column.startswith("t1_recovery__"):
            out[f"T1 recovery gap @{column.split('__', 1)[1]}"] = Measure(column, gap_statistic)
        elif column.startswith("t2_p_hat__"):
            _, group, tier = column.split("__")
            out[f"T2 {group}@{tier} gap"] = Measure(column, gap_statistic)
    return out


def _arms(frame: pl.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(member values, non-member values) of the column, nulls as NaN, in the frame's row order."""
    member = frame["arm"].to_numpy() == MEMBER
    values = frame[column].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    return values[member], values[~member]


def difference(
    measure: Measure,
    a: pl.DataFrame,
    b: pl.DataFrame,
    paired: bool,
    n_boot: int,
    confidence: float,
    seed: int,
    margin: float = 0.0,
) -> dict:
    """measure(B) − measure(A) with its bootstrap interval and the one-sided p-value of its
    exceeding `margin`. Paired frames hold the same subjects in the same row order."""
    rng = np.random.default_rng(seed)
    (am, an), (bm, bn) = _arms(a, measure.column), _arms(b, measure.column)
    f = measure.statistic
    point = f(bm, bn) - f(am, an)
    draws = np.empty(n_boot)
    for i in range(n_boot):
        im, i_n = rng.integers(0, am.size, am.size), rng.integers(0, an.size, an.size)
        if paired:
            draws[i] = f(bm[im], bn[i_n]) - f(am[im], an[i_n])
        else:
            jm, jn = rng.integers(0, bm.size, bm.size), rng.integers(0, bn.size, bn.size)
            draws[i] = f(bm[jm], bn[jn]) - f(am[im], an[i_n])
    d = draws[np.isfinite(draws)]
    lo, hi = np.quantile(d, [(1 - confidence) / 2, (1 + confidence) / 2]) if d.size else (np.nan, np.nan)
    return {
        "a": f(am, an),
        "b": f(bm, bn),
        "difference": point,
        "ci": [float(lo), float(hi)],
        "p_worse": float((np.sum(d <= margin) + 1) / (d.size + 1)) if d.size else 1.0,
    }
