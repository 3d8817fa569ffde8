"""T5 memorized or generalized: its settings, under `t5:` in the audit's YAML, read as
`ctx.config.t5`."""

from __future__ import annotations

from dataclasses import dataclass

from ...config.params import Interval, Section, param
from ...config.sections import POSITIVE


@dataclass(frozen=True)
class T5(Section):
    docs = "T5: the reference model's contrast, or without one the identifier-perturbation profile."
    n_samples_original: int = param(
        100, "fresh samples of a flagged prompt under each model: replication and the statistic", POSITIVE
    )
    n_null: int = param(
        100, "non-members flagged by the same T2 rule that form the null (a seeded draw)", POSITIVE
    )
    max_cases: int = param(50, "flagged member cases judged at most", POSITIVE)
    alpha: float = param(
        0.05,
        "false discovery rate of likely memorized (Benjamini-Hochberg across an audit's cases); memorized "
        "is family-wise (Holm) at T5's share of `risk.gate_alpha`",
        Interval(0, 1, True, True),
    )
    min_effect: float = param(
        0.2,
        "with a reference model: smallest difference of the two models' shares that counts as memorized",
        Interval(0, 1),
    )
    fails_gate: bool = param(
        False,
        "with a reference model: whether a memorized case fails the gate (else it warns); off while T5's "
        "calls have not matched counterfactual truth (docs/validation.md)",
    )
    n_samples: int = param(20, "without a reference model: fresh samples per perturbed prompt", POSITIVE)
    age_steps: int = param(3, "without a reference model: age bands shifted up and down", POSITIVE)
    min_drop: float = param(
        0.2, "without a reference model: smallest drop of p-hat that counts as sharp", Interval(0, 1)
    )
