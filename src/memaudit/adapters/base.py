"""The model adapter contract (DESIGN.md): batched generate / score / embed + capabilities.

Requests go in as lists and results come back in the same order, as in lm-evaluation-harness.
Generation is seeded per (seed, prompt, sample index), so a prompt's samples do not depend on
which batch it travelled in: that is what lets the runner cache, resume and shard requests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

GENERATE, SCORE, EMBED = "generate", "score", "embed"
ALL_CAPABILITIES = frozenset({GENERATE, SCORE, EMBED})


@dataclass(frozen=True)
class ScoreResult:
    """Per-position scores of a sequence's codes under the model.

    logprobs[t] = log p(code_t | codes_<t); mean[t] and std[t] are the mean and standard
    deviation of log p(v | codes_<t) over the vocabulary under the model's own distribution
    (what Min-K%++ normalises by)."""

    logprobs: np.ndarray
    mean: np.ndarray
    std: np.ndarray


@runtime_checkable
class ModelAdapter(Protocol):
    def capabilities(self) -> frozenset[str]: ...

    def fingerprint(self) -> str:
        """A stable identity of the model (weights and vocabulary), used in cache keys."""
        ...

    def generate(self, prompts: Sequence[Sequence[str]], n_samples: int, max_new_codes: int,
                 temperature: float, top_p: float, seed: int) -> list[list[list[str]]]:
        """For each prompt, `n_samples` continuations (lists of codes). temperature 0 = greedy."""
        ...

    def score(self, sequences: Sequence[Sequence[str]]) -> list[ScoreResult]: ...

    def embed(self, sequences: Sequence[Sequence[str]]) -> np.ndarray: ...


def sample_seed(seed: int, prompt: Sequence[str], sample_index: int) -> int:
    """The seed of one sample: a function of the run seed, the prompt and the sample index only."""
    h = hashlib.sha256(f"{seed}\x1e{chr(31).join(prompt)}\x1e{sample_index}".encode()).digest()
    return int.from_bytes(h[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF
