"""T3 embedding probe: its settings, under `t3:` in the audit's YAML, read as
`ctx.config.t3`."""

from __future__ import annotations

from dataclasses import dataclass

from ...config.params import Interval, Section, param
from ...config.sections import POSITIVE


@dataclass(frozen=True)
class T3(Section):
    docs = "T3 embedding probe"
    folds: int = param(5, "cross-fitting folds of the probe", Interval(2, None))
    min_positives: int = param(8, "subjects with the group needed to train a probe", POSITIVE)
