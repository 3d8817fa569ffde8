"""What one test gives another, typed: T1's recovery, T2's p̂ and flagged cases, T4's operating
point. A test reads them from the earlier results it declares (`Audit.reads`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TrajectoryRecovery:
    """T1 → T6: share of the true next codes each subject's samples reproduce, per tier."""

    by_tier: Mapping[str, Mapping[int, float]]


@dataclass(frozen=True)
class FlaggedCase:
    """A member whose samples regenerate a removed sensitive group it truly has."""

    subject_id: int
    group: str
    tier: str
    p_hat: float


@dataclass(frozen=True)
class SensitiveFlags:
    """T2 → T5, T6: p̂ (share of a subject's samples with a code of the group) per (group, tier),
    the flagged member cases, and how many samples each prompt drew (sequential sampling stops
    settled prompts early)."""

    p_hat: Mapping[tuple[str, str], Mapping[int, float]]
    flagged: tuple[FlaggedCase, ...]
    n_drawn: Mapping[tuple[str, ...], int]


@dataclass(frozen=True)
class OperatingPoint:
    """T4 → T6: the membership score that decides T4, each subject's value of it, and the threshold
    at the first low-FPR operating point that could be estimated (None: none could)."""

    score: str
    scores: Mapping[int, float]
    threshold: float | None
