"""What `memaudit compare` measures in each run, from its subjects.parquet, and the difference.

Each measure is a function of one run's per-subject frame (a `subject` key, an `arm` column, one
column per per-subject metric) whose larger value means more leakage:

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

import numpy as np
import polars as pl

from ..audits.stats import auroc

Measure = Callable[[pl.DataFrame], float]
MEMBER, NON_MEMBER = "member", "non_member"


def _arms(frame: pl.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    rows = frame.select("arm", column).drop_nulls()
    return (
        rows.filter(pl.col("arm") == MEMBER)[column].to_numpy().astype(float),
        rows.filter(pl.col("arm") == NON_MEMBER)[column].to_numpy().astype(float),
    )


def auroc_of(column: str) -> Measure:
    return lambda frame: auroc(*_arms(frame, column))


def gap_of(column: str) -> Measure:
    def gap(frame: pl.DataFrame) -> float:
        member, non_member = _arms(frame, column)
        return float(member.mean() - non_member.mean()) if member.size and non_member.size else float("nan")

    return gap


def measures(a: pl.DataFrame, b: pl.DataFrame) -> dict[str, Measure]:
    """The measures both runs can be compared on, by name."""
    shared = set(a.columns) & set(b.columns)
    out: dict[str, Measure] = {}
    for column in sorted(c for c in shared if not c.endswith("__none")):
        if column.startswith("t4_"):
            out[f"T4 {column[3:]} AUROC"] = auroc_of(column)
        elif column.startswith("t1_recovery__"):
            out[f"T1 recovery gap @{column.split('__', 1)[1]}"] = gap_of(column)
        elif column.startswith("t2_p_hat__"):
            _, group, tier = column.split("__")
            out[f"T2 {group}@{tier} gap"] = gap_of(column)
    return out


def _resample(frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    parts = [
        frame.filter(pl.col("arm") == arm).sample(
            fraction=1.0, with_replacement=True, seed=int(rng.integers(2**31))
        )
        for arm in (MEMBER, NON_MEMBER)
    ]
    return pl.concat(parts)


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
    exceeding `margin`. Paired frames share a `key` column (the subject) and are resampled on the
    same keys."""
    rng = np.random.default_rng(seed)
    point = measure(b) - measure(a)
    draws = []
    for _ in range(n_boot):
        if paired:
            keys = _resample(a.select("key", "arm"), rng).select("key")
            draws.append(measure(keys.join(b, on="key")) - measure(keys.join(a, on="key")))
        else:
            draws.append(measure(_resample(b, rng)) - measure(_resample(a, rng)))
    d = np.asarray([x for x in draws if np.isfinite(x)])
    lo, hi = np.quantile(d, [(1 - confidence) / 2, (1 + confidence) / 2]) if d.size else (np.nan, np.nan)
    return {
        "a": measure(a),
        "b": measure(b),
        "difference": point,
        "ci": [float(lo), float(hi)],
        "p_worse": float((np.sum(d <= margin) + 1) / (d.size + 1)) if d.size else 1.0,
    }
