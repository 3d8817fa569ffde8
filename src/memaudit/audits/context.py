"""Everything an audit may read, prepared once by the runner: no audit touches files or the model."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..cohort.meds_reader import Timeline
from ..cohort.sensitive import GroupMatcher
from ..config import AuditConfig
from ..prompts.tiers import Prompt
from .clinical_links import linked_codes


@dataclass
class AuditContext:
    config: AuditConfig
    matcher: GroupMatcher
    members: list[int]
    non_members: list[int]
    timelines: Mapping[int, Timeline]
    prompts: Mapping[str, Mapping[int, Prompt]]      # tier -> subject -> prompt
    excluded: Mapping[str, int]                        # tier -> subjects too short for it
    code_prevalence: Mapping[str, float]               # share of cohort subjects with each code
    code_embeddings: Mapping[str, np.ndarray] = field(default_factory=dict)
    capabilities: frozenset[str] = frozenset()
    skipped_tiers: Mapping[str, str] = field(default_factory=dict)  # tier -> why it was not run
    stream: Mapping = field(default_factory=dict)                   # how timelines were rebuilt (cohort/stream.py)

    def rng(self, name: str) -> np.random.Generator:
        """A named random stream derived from the one seed: audits never share state."""
        digest = hashlib.sha256(name.encode()).digest()
        return np.random.default_rng([self.config.seed, int.from_bytes(digest[:4], "little")])

    def arm(self, subject_id: int) -> str:
        return "member" if subject_id in self._member_set else "non_member"

    def __post_init__(self) -> None:
        self._member_set = set(self.members)
        self._labels: dict[str, dict[int, bool]] = {}
        self._linked: dict[str, frozenset[str]] = {}

    def labels(self, group: str) -> dict[int, bool]:
        """Whether each audited subject has the group anywhere in the timeline (computed once per
        group: T2, T3, T5 and T6 all ask)."""
        if group not in self._labels:
            self._labels[group] = {s: self.matcher.has_group(t.codes, group) for s, t in self.timelines.items()}
        return self._labels[group]

    def linked_codes(self, group: str) -> frozenset[str]:
        """Codes linked to the group in the audited cohort (`clinical_links`; computed once per
        group: T5 asks when it picks its cases and again when it reports them)."""
        if group not in self._linked:
            self._linked[group] = linked_codes({s: t.codes for s, t in self.timelines.items()}, self.labels(group))
        return self._linked[group]

    @property
    def n_boot(self) -> int:
        return int(self.config["statistics"]["n_bootstrap"])

    @property
    def n_perm(self) -> int:
        return int(self.config["statistics"]["n_permutations"])

    @property
    def confidence(self) -> float:
        return float(self.config["statistics"]["confidence"])

    def generation(self) -> Mapping:
        return self.config["generation"]
