"""T4 membership inference: its settings, under `t4:` in the audit's YAML, read as
`ctx.config.t4`."""

from __future__ import annotations

from dataclasses import dataclass

from ...config.params import Interval, OneOf, Section, param
from ...config.sections import POSITIVE, PROBABILITY

T4_SCORES = (
    "loss",
    "min_k",
    "min_k_plus_plus",
    "zlib_analogue",
    "reference_calibrated",
    "masked_embedding_variance",
)


@dataclass(frozen=True)
class T4(Section):
    docs = "T4 membership inference"
    primary: str = param(
        "auto",
        "the attack that decides T4. auto: the one with the largest AUROC, its interval simultaneous over "
        "every attack (max-type bootstrap), the choice paid for; a score name: that attack with its own "
        "interval (the others are exploratory)",
        OneOf(("auto", *T4_SCORES)),
    )
    min_k_fraction: float = param(0.2, "share of least likely codes in Min-K% and Min-K%++", PROBABILITY)
    fprs: tuple[float, ...] = param(
        [0.1, 0.01, 0.001],
        "false-positive rates of the operating points (each needs at least 10/FPR non-members)",
        Interval(0, 1, True, True),
    )
    population: str = param(
        "all",
        "all: every member record (each repeated record once) and every non-member is scored, one forward "
        "pass each, so that low false-positive rates can be estimated, whatever `subjects_per_arm` samples "
        "for the generation tests; sampled: the sampled arms only",
        OneOf(("all", "sampled")),
    )
    mask_views: int = param(
        8,
        "masked copies of a timeline for the masked-embedding variance (scored on the sampled arms: "
        "it costs this many passes a subject)",
        POSITIVE,
    )
    mask_fraction: float = param(0.15, "share of codes masked in each copy", Interval(0, 1, True, True))
    delta: float = param(
        0.00001, "delta of the empirical (epsilon, delta) lower bound", Interval(0, 1, True, True)
    )
