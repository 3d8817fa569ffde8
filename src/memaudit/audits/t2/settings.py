"""T2 sensitive attribute leakage: its settings, under `t2:` in the audit's YAML, read as
`ctx.config.t2`."""

from __future__ import annotations

from dataclasses import dataclass

from ...config.params import Section, param
from ...config.sections import PROBABILITY


@dataclass(frozen=True)
class T2(Section):
    docs = "T2 sensitive attribute leakage"
    threshold: float = param(0.3, "p-hat at or above this flags a subject", PROBABILITY)
