"""Everything an audit may read, prepared once before any test runs: no audit touches files or
the model."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cohort.conventions import CodeConventions
from ..cohort.meds_reader import Timeline
from ..cohort.sensitive import GroupMatcher
from ..config import AuditConfig
from ..prompts.prepare import PreparedCohort
from ..prompts.tiers import Prompt
from .clinical_links import linked_codes
from .code_embeddings import icd_ontology, ppmi_svd


@dataclass(frozen=True)
class AuditContext:
    config: AuditConfig
    cohort: PreparedCohort
    code_embeddings: Mapping[str, np.ndarray] = field(default_factory=dict)
    capabilities: frozenset[str] = frozenset()
    # a reference model (same recipe, never saw the audited subjects) answers too
    has_reference: bool = False
    # whether the model's vocabulary has a code (None: not exposed)
    knows: Callable[[str], bool] | None = None
    # members the reference model never saw (None: it saw none of the audited subjects)
    reference_unseen: frozenset[int] | None = None
    # what T4 masks a code with (None: the model has nothing to mask with)
    mask_token: str | None = "[MASK]"
    # sample in rounds and stop settled prompts (audits/sampling.py); off when the adapter answers
    # only exported prompts, each with every sample
    sequential: bool = False
    # per-prompt measurements (`per_prompt`) shared by contexts that read one model's responses
    # (the verdict's half-samples); None: each is measured where it is asked
    measured: dict | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        cohort: PreparedCohort,
        config: AuditConfig,
        capabilities: frozenset[str],
        model_embeddings: Mapping[str, np.ndarray] | None = None,
        has_reference: bool = False,
        knows: Callable[[str], bool] | None = None,
        reference_unseen: frozenset[int] | None = None,
        mask_token: str | None = "[MASK]",
        sequential: bool = False,
    ) -> AuditContext:
        """The whole context in one step, with the code embeddings T1's dEMD uses (config
        `t1.embedding`)."""
        kind = config.t1.embedding
        if kind == "model" and model_embeddings:
            embeddings = model_embeddings
        elif kind == "icd":
            embeddings = icd_ontology({c for t in cohort.timelines.values() for c in t.codes})
        else:
            embeddings = ppmi_svd(
                [cohort.timelines[s].codes for s in cohort.non_members], dim=config.t1.embedding_dim
            )
        return cls(
            config,
            cohort,
            embeddings,
            capabilities,
            has_reference,
            knows,
            reference_unseen,
            mask_token,
            sequential,
        )

    def __post_init__(self) -> None:
        # derived values, computed once per context (a replaced context starts afresh)
        object.__setattr__(self, "_member_set", set(self.cohort.members))
        object.__setattr__(self, "_labels", {})
        object.__setattr__(self, "_horizon", {})
        object.__setattr__(self, "_linked", {})
        object.__setattr__(self, "_once", {})

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """`make()` computed once per context under `key`: a choice a test makes in `requests` and
        reads again in `follow_up` and `run` (T5's cases) lives with the context, not the test."""
        if key not in self._once:
            self._once[key] = make()
        return self._once[key]

    def per_prompt(self, key: Hashable, make: Callable[..., Any], *args: Any) -> Any:
        """`make(*args)`, once per `key` across the contexts that share `measured` (the verdict's
        half-samples, which stability.py runs on the audit's recorded responses): a measurement
        that depends on one prompt, the model's answers to it and the test's settings alone, never
        on which other subjects are audited (T1's distances of a subject's samples, T2's share of a
        prompt's samples holding a group). The key names everything the value depends on but the
        model, the number of answers included; contexts that share `measured` share the model."""
        if self.measured is None:
            return make(*args)
        if key not in self.measured:
            self.measured[key] = make(*args)
        return self.measured[key]

    # --- the prepared cohort -----------------------------------------------------------------
    @property
    def matcher(self) -> GroupMatcher:
        return self.cohort.matcher

    def group_share(self, samples: list[list[str]], group: str) -> float:
        """Share of samples that contain a code of the group (0 with no sample)."""
        return float(np.mean([self.matcher.has_group(s, group) for s in samples])) if samples else 0.0

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
    def scored_members(self) -> list[int]:
        """T4's members: every member record under `t4.population: all`, else the sampled arm."""
        return self.cohort.scored_members or self.cohort.members

    @property
    def scored_non_members(self) -> list[int]:
        """T4's non-members: every non-member under `t4.population: all`, else the sampled arm."""
        return self.cohort.scored_non_members or self.cohort.non_members

    def codes_of(self, subject_id: int) -> tuple[str, ...]:
        """A scored subject's codes, whether or not the generation tests sampled it."""
        if subject_id in self.cohort.scored_codes:
            return self.cohort.scored_codes[subject_id]
        return self.timelines[subject_id].codes

    @property
    def prompts(self) -> Mapping[str, Mapping[int, Prompt]]:
        return self.cohort.prompts

    @property
    def excluded(self) -> Mapping[str, int]:
        return self.cohort.excluded

    @property
    def code_prevalence(self) -> Mapping[str, float]:
        return self.cohort.code_prevalence

    @property
    def conventions(self) -> CodeConventions:
        return self.cohort.conventions

    @property
    def horizon(self) -> int:
        """How many true codes after the prompt a sample can reach: `generation.max_new_codes`."""
        return self.config.generation.max_new_codes

    def first_round(self, cap: int) -> int:
        """Samples of a prompt's first round under a cap: all of them when sampling is fixed."""
        return min(self.config.generation.first_round, cap) if self.sequential else cap

    def known(self, code: str) -> bool:
        """Whether the model can be sent the code (True when its vocabulary is not exposed)."""
        return self.knows is None or self.knows(code)

    # --- derived, computed once ----------------------------------------------------------------
    def rng(self, name: str) -> np.random.Generator:
        """A named random stream derived from the one seed: audits never share state."""
        digest = hashlib.sha256(name.encode()).digest()
        return np.random.default_rng([self.config.seed, int.from_bytes(digest[:4], "little")])

    def arm(self, subject_id: int) -> str:
        return "member" if subject_id in self._member_set else "non_member"

    def horizon_labels(self, group: str, tier: str) -> dict[int, bool]:
        """Whether each subject prompted at the tier has the group within the generation horizon:
        among the next `horizon` true codes after the prompt, the only ones a sample can reproduce."""
        key = (group, tier)
        if key not in self._horizon:
            self._horizon[key] = {
                s: self.matcher.has_group(p.continuation[: self.horizon], group)
                for s, p in self.prompts[tier].items()
            }
        return self._horizon[key]

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
