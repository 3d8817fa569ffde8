"""Sequential sampling of the rates the audit decides on (T2's flags, T5's replication).

A prompt is sampled in rounds of doubling size, `generation.first_round`, twice that, … up to the
cap (`generation.n_samples` for T2, `t5.n_samples_original` for T5). Sample j of a prompt is seeded
by (seed, prompt, j), so a later round extends the earlier ones and the cache keeps each. After
each round, the decision "the rate is at or above the threshold" is settled once a one-sided
Clopper-Pearson bound at error stop_error / looks excludes the threshold (looks: the number of
rounds the schedule has); a prompt whose every decision is settled stops.

Why this confidence sequence: for any true rate only one wrong decision is possible ("below" when
the rate is at the threshold or above, "above" when it is under), and it needs the one-sided bound
on that side to fail at some look. Spending the error evenly over the looks (Bonferroni), that has
probability at most stop_error whatever the rate and however the rounds fell. The schedule has few
looks (four from 16 to 100), so this costs little against a betting or mixture sequence, stays
exact for small counts and needs no tuning. Rates within sampling noise of the threshold are drawn
to the cap, where the decision is the fixed-sample one.

Example (threshold 0.3, stop_error 0.05, rounds 16, 32, 64, 100): 0 of 16 settles "below" (upper
bound 0.24); 10 of 16 settles "above"; 1 to 9 of 16 draw on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..prompts.requests import Generate, Responses
from .stats import clopper_pearson

if TYPE_CHECKING:
    from .context import AuditContext


def schedule(first: int, cap: int) -> list[int]:
    """Cumulative sample counts after each round: first, 2·first, 4·first, …, cap."""
    sizes, n = [], max(1, min(first, cap))
    while n < cap:
        sizes.append(n)
        n *= 2
    return [*sizes, cap]


def settled(k: int, n: int, threshold: float, error_per_look: float) -> bool:
    """Whether k of n settles "rate ≥ threshold" either way: the one-sided lower bound at or
    above it, or the one-sided upper bound below it, each at error `error_per_look`."""
    low, high = clopper_pearson(k, n, 1 - 2 * error_per_look)
    return low >= threshold or high < threshold


def is_open(counts: Sequence[int], n: int, threshold: float, error: float, looks: int) -> bool:
    """Whether any of a prompt's decisions (each k of the n samples so far) is still open."""
    return any(not settled(k, n, threshold, error / looks) for k in counts)


def rounds(full: Generate, first: int) -> list[Generate]:
    """The requests of every round of `full` (all its samples, the cap), the first of `first`."""
    sizes = schedule(first, full.n_samples)
    starts = [0, *sizes[:-1]]
    return [
        Generate(
            full.prompt,
            end - start,
            full.max_new_codes,
            full.temperature,
            full.top_p,
            full.seed,
            full.model,
            start,
        )
        for start, end in zip(starts, sizes)
    ]


def draws(responses: Responses, full: Generate, first: int) -> list[list[str]]:
    """Every sample of `full` answered so far, in index order (the rounds answered, in turn)."""
    out: list[list[str]] = []
    for request in rounds(full, first):
        if request not in responses:
            break
        out += responses[request]
    return out


def next_round(drawn: int, full: Generate, first: int) -> Generate | None:
    """The round that follows `drawn` samples, or None at the cap."""
    return next((r for r in rounds(full, first) if r.first_sample == drawn), None)


@dataclass
class Spent:
    """What sequential sampling spent on a test's prompts, for the report."""

    cap: int
    first_round: int
    drawn: dict[tuple, int]  # distinct prompt → samples drawn

    def to_dict(self) -> dict:
        n = len(self.drawn)
        by_size: dict[int, int] = {}
        for d in self.drawn.values():
            by_size[d] = by_size.get(d, 0) + 1
        return {
            "sequential": self.first_round < self.cap,
            "cap": self.cap,
            "first_round": self.first_round,
            "prompts": n,
            "samples_drawn": sum(self.drawn.values()),
            "samples_at_cap": n * self.cap,
            "stopped_early": sum(d < self.cap for d in self.drawn.values()),
            "prompts_by_samples": {str(k): v for k, v in sorted(by_size.items())},
        }


def sample_request(ctx: AuditContext, prompt: tuple[str, ...]) -> Generate:
    """Every sample the audit may draw of a prompt (`generation.n_samples`, the cap); T2 draws
    them in rounds (audits/sampling.py)."""
    g = ctx.config.generation
    return Generate(prompt, g.n_samples, g.max_new_codes, g.temperature, g.top_p, ctx.config.seed)


def first_round_request(ctx: AuditContext, prompt: tuple[str, ...]) -> Generate:
    """The prompt's first round of samples: what T1 reads, and where T2 starts."""
    full = sample_request(ctx, prompt)
    return rounds(full, ctx.first_round(full.n_samples))[0]
