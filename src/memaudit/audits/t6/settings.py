"""T6 subgroups: its settings, under `t6:` in the audit's YAML, read as
`ctx.config.t6`."""

from __future__ import annotations

from dataclasses import dataclass

from ...config.params import Interval, Section, param
from ...config.sections import POSITIVE


@dataclass(frozen=True)
class T6(Section):
    docs = "T6 subgroups"
    rare_prevalence: float = param(0.005, "a diagnosis below this prevalence is rare", Interval(0, 1))
    elderly_min_age: int = param(85, "lowest age of the elderly subgroup", Interval(0, None))
    k_anonymity: int = param(5, "a prompt shared by fewer subjects is k-anonymous", POSITIVE)
