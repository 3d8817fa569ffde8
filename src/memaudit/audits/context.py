"""Everything an audit may read, prepared once before any test runs: no audit touches files or
the model."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..cohort.meds_reader import Timeline
from ..cohort.sensitive import GroupMatcher
from ..config import AuditConfig
from ..prompts.prepare import PreparedCohort
from ..prompts.tiers import Prompt
from .clinical_links import linked_codes
from .code_embeddings import icd_ontology, ppmi_svd


@dataclass
class AuditContext:
    config: AuditConfig
    cohort: PreparedCohort
    code_embeddings: Mapping[str, np.ndarray] = field(default_factory=dict)
    capabilities: frozenset[str] = frozenset()
    has_reference: bool = False  # a reference model (same recipe, never saw the audited subjects) answers too

    @classmethod
    def build(
        cls,
        cohort: PreparedCohort,
        config: AuditConfig,
        capabilities: frozenset[str],
        model_embeddings: Mapping[str, np.ndarray] | None = None,
        has_reference: bool = False,
    ) -> AuditContext:
        """The context, with the code embeddings T1's dEMD uses (config `t1.embedding`)."""
        kind = config.t1.embedding
        if kind == "model" and model_embeddings:
            embeddings = model_embeddings
        elif kind == "icd":
            embeddings = icd_ontology({c for t in cohort.timelines.values() for c in t.codes})
        else:
            embeddings = ppmi_svd(
                [cohort.timelines[s].codes for s in cohort.non_members], dim=config.t1.embedding_dim
            )
        return cls(config, cohort, embeddings, capabilities, has_reference)

    def __post_init__(self) -> None:
        self._member_set = set(self.cohort.members)
        self._labels: dict[str, dict[int, bool]] = {}
        self._linked: dict[str, frozenset[str]] = {}

    # --- the prepared cohort -----------------------------------------------------------------
    @property
    def matcher(self) -> GroupMatcher:
        return self.cohort.matcher

    @property
    def members(self) -> list[int]:
        return self.cohort.members

    @property
    def non_members(self) -> list[int]:
        return self.cohort.non_members

    @property
    def timelines(self) -> Mapping[int, Timeline]:
        return self.cohort.timelines

    @property
    def prompts(self) -> Mapping[str, Mapping[int, Prompt]]:
        return self.cohort.prompts

    @property
    def excluded(self) -> Mapping[str, int]:
        return self.cohort.excluded

    @property
    def code_prevalence(self) -> Mapping[str, float]:
        return self.cohort.code_prevalence

    # --- derived, computed once ----------------------------------------------------------------
    def rng(self, name: str) -> np.random.Generator:
        """A named random stream derived from the one seed: audits never share state."""
        digest = hashlib.sha256(name.encode()).digest()
        return np.random.default_rng([self.config.seed, int.from_bytes(digest[:4], "little")])

    def arm(self, subject_id: int) -> str:
        return "member" if subject_id in self._member_set else "non_member"

    def labels(self, group: str) -> dict[int, bool]:
        """Whether each audited subject has the group anywhere in the timeline."""
        if group not in self._labels:
            self._labels[group] = {
                s: self.matcher.has_group(t.codes, group) for s, t in self.timelines.items()
            }
        return self._labels[group]

    def linked_codes(self, group: str) -> frozenset[str]:
        """Codes linked to the group in the audited cohort (`clinical_links`)."""
        if group not in self._linked:
            self._linked[group] = linked_codes(
                {s: t.codes for s, t in self.timelines.items()}, self.labels(group)
            )
        return self._linked[group]

    @property
    def n_boot(self) -> int:
        return self.config.statistics.n_bootstrap

    @property
    def n_perm(self) -> int:
        return self.config.statistics.n_permutations

    @property
    def confidence(self) -> float:
        return self.config.statistics.confidence
