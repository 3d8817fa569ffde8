"""Sequential sampling: the confidence sequence's error by simulation, agreement with the cap,
and the rounds a request is split into."""

from __future__ import annotations

import numpy as np
import pytest

from memaudit.audits.sampling import Spent, draws, is_open, next_round, rounds, schedule, settled
from memaudit.prompts.requests import Generate

FIRST, CAP, THRESHOLD, ERROR = 16, 100, 0.3, 0.05


def _decision_tables(first: int, cap: int, threshold: float, error: float) -> dict[int, np.ndarray]:
    """For each look n: settled-ness of every count k = 0..n."""
    looks = schedule(first, cap)
    return {n: np.array([settled(k, n, threshold, error / len(looks)) for k in range(n + 1)]) for n in looks}


def simulate(
    rate: float, n_prompts: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sequential decisions ("rate ≥ threshold") of prompts with one true rate, the fixed-sample
    decisions at the cap on the same samples, and the samples each prompt drew."""
    tables = _decision_tables(FIRST, CAP, THRESHOLD, ERROR)
    hits = rng.random((n_prompts, CAP)) < rate
    cumulative = np.cumsum(hits, axis=1)
    decided = np.full(n_prompts, -1)
    drawn = np.full(n_prompts, CAP)
    for n in schedule(FIRST, CAP):
        k = cumulative[:, n - 1]
        stop = (decided < 0) & tables[n][k]
        decided[stop] = k[stop] / n >= THRESHOLD
        drawn[stop] = n
    at_cap = cumulative[:, -1] / CAP >= THRESHOLD
    decided[decided < 0] = at_cap[decided < 0]
    return decided.astype(bool), at_cap, drawn


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.15, 0.22, 0.27, 0.3, 0.33, 0.4, 0.6, 0.9])
def test_early_stops_are_wrong_at_most_stop_error_of_the_time(rate: float) -> None:
    """Whatever the true rate, a prompt stopped before the cap decides against the truth in at
    most stop_error of prompts (20,000 simulated; 4 standard errors of slack)."""
    rng = np.random.default_rng(int(rate * 1000))
    decided, _, drawn = simulate(rate, 20_000, rng)
    early_wrong = (drawn < CAP) & (decided != (rate >= THRESHOLD))
    slack = 4 * np.sqrt(ERROR * (1 - ERROR) / decided.size)
    assert early_wrong.mean() <= ERROR + slack


def test_decisions_agree_with_the_cap_and_cost_a_fraction_of_it() -> None:
    """On rates spread like an audit's (most far below the threshold, a few near or above it),
    the sequential decisions equal those at the cap on the same samples in ≥ 99% of prompts, at
    well under the cap's samples."""
    rng = np.random.default_rng(0)
    rates = np.concatenate([np.zeros(600), rng.beta(0.5, 8, 300), rng.uniform(0.1, 0.9, 100)])
    agree, spent = [], []
    for rate in rates:
        decided, at_cap, drawn = simulate(float(rate), 20, rng)
        agree.append(decided == at_cap)
        spent.append(drawn)
    assert np.mean(np.concatenate(agree)) >= 0.99
    assert np.mean(np.concatenate(spent)) < 0.4 * CAP


def test_a_rate_far_from_the_threshold_stops_at_the_first_round() -> None:
    assert settled(0, 16, THRESHOLD, ERROR / 4) and settled(16, 16, THRESHOLD, ERROR / 4)
    assert not settled(5, 16, THRESHOLD, ERROR / 4)
    assert is_open([0, 5], 16, THRESHOLD, ERROR, 4) and not is_open([0, 0, 16], 16, THRESHOLD, ERROR, 4)


def test_rounds_cover_every_sample_once_and_extend_each_other() -> None:
    full = Generate(("A", "B"), 100, 8, 1.0, 1.0, 3)
    parts = rounds(full, 16)
    assert [r.first_sample for r in parts] == [0, 16, 32, 64]
    assert [r.n_samples for r in parts] == [16, 16, 32, 36] and sum(r.n_samples for r in parts) == 100
    assert rounds(full, 100) == [full] and rounds(full, 500) == [full]
    assert next_round(32, full, 16) == parts[2] and next_round(100, full, 16) is None
    answered = {parts[0]: [["x"]] * 16, parts[1]: [["y"]] * 16, parts[3]: [["z"]] * 36}
    assert draws(answered, full, 16) == [["x"]] * 16 + [["y"]] * 16  # stops at the first unanswered round


def test_spent_counts_prompts_stopped_early() -> None:
    spent = Spent(100, 16, {("a",): 16, ("b",): 100, ("c",): 32}).to_dict()
    assert spent["samples_drawn"] == 148 and spent["samples_at_cap"] == 300
    assert spent["stopped_early"] == 2 and spent["prompts_by_samples"] == {"16": 1, "32": 1, "100": 1}
    assert spent["sequential"] and not Spent(10, 10, {("a",): 10}).to_dict()["sequential"]
