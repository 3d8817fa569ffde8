"""The model adapter contract: batched generate / score / embed, and what else an adapter may offer.

Requests go in as lists and results come back in the same order, as in lm-evaluation-harness's
`LM`. Generation is seeded per (seed, prompt, sample index), so a prompt's samples do not depend
on the batch it travelled in: that is what lets the runner cache, resume and shard requests.

Required: `capabilities()`, `fingerprint()` and the methods the capabilities name. Optional (an
adapter that lacks one gets `AdapterBase`'s default, through `optional`):

- `adaptive` (default True): answers any prompt. False for a backend that holds only precomputed
  samples of exported prompts; audits that ask new prompts are then skipped.
- `vocabulary()` (default None): the model's vocabulary (`knows(code)`, `tokens()`), so the audit
  can count unknown codes, choose static rows and scan tokens for values.
- `learn(codes)` (default: nothing): the codes generated token runs may decode to (multi-token
  vocabularies).
- `window_plan(sequences, prompts, max_new_codes)` (default None): how the timelines and prompts fit
  the model's context, for the report.
- `code_embeddings()` (default None): the model's input embedding of each code (T1's `model`
  embedding).
- `numerics()` (default ""): what besides the weights decides the numbers it returns (sampler,
  device, precision); the response cache keys on it, so a run on another device or dtype does not
  mix its samples with cached ones.
- `stream_structure()` (default None): the stream's structure tokens (visit markers, time gaps),
  for a stack whose stream interleaves them with clinical codes; `codes:K` then counts clinical
  codes only.
- `stream_table()` (default None): a parquet of each subject's stream as the stack's own
  pipeline built it (see cohort/stack_stream.py), used unless config `cohort.stream_table` is set.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..cohort.conventions import StreamStructure

GENERATE, SCORE, EMBED = "generate", "score", "embed"
ALL_CAPABILITIES = frozenset({GENERATE, SCORE, EMBED})


@dataclass(frozen=True)
class ScoreResult:
    """Per-position scores of a sequence's codes under the model, each of shape (n_codes,).

    logprobs[t] = log p(code_t | codes_<t); mean[t] and std[t] are the mean and standard
    deviation of log p(v | codes_<t) over the vocabulary under the model's own distribution
    (what Min-K%++ normalises by)."""

    logprobs: np.ndarray
    mean: np.ndarray
    std: np.ndarray


class Vocabulary(Protocol):
    def knows(self, code: str) -> bool:
        """Whether the model has a token (or tokens) for the code."""
        ...

    def tokens(self) -> Iterable[str]:
        """Every token string of the vocabulary."""
        ...

    def unknown_token(self) -> str | None:
        """The token sent for codes outside the vocabulary, if there is one."""
        ...


class ModelAdapter(Protocol):
    def capabilities(self) -> frozenset[str]:
        """The batch methods this adapter offers: a subset of {generate, score, embed}."""
        ...

    def fingerprint(self) -> str:
        """A stable identity of the model (weights and vocabulary), used in cache keys."""
        ...

    def generate(
        self,
        prompts: Sequence[Sequence[str]],
        n_samples: int,
        max_new_codes: int,
        temperature: float,
        top_p: float,
        seed: int,
        first_sample: int = 0,
    ) -> list[list[list[str]]]:
        """For each prompt, `n_samples` continuations (lists of codes): samples `first_sample` ..
        `first_sample + n_samples - 1`, sample j seeded by `sample_seed(seed, prompt, j)`.
        temperature 0 = greedy. `first_sample` is optional: an adapter without it is asked for
        samples from 0 and the audit keeps the later ones (`generate_from`)."""
        ...

    def score(self, sequences: Sequence[Sequence[str]]) -> list[ScoreResult]:
        """For each sequence, log p of each code given the codes before it."""
        ...

    def embed(self, sequences: Sequence[Sequence[str]]) -> np.ndarray:
        """(n_sequences, d): one vector per sequence."""
        ...


class AdapterBase:
    """Defaults of the optional members; the built-in adapters inherit from it."""

    adaptive: bool = True

    def vocabulary(self) -> Vocabulary | None:
        return None

    def learn(self, codes: Sequence[str]) -> None:
        return None

    def window_plan(
        self,
        sequences: Sequence[Sequence[str]],
        prompts: Sequence[Sequence[str]] = (),
        max_new_codes: int = 0,
    ) -> dict | None:
        return None

    def code_embeddings(self) -> Mapping[str, np.ndarray] | None:
        return None

    def numerics(self) -> str:
        return ""

    def stream_structure(self) -> StreamStructure | None:
        return None

    def stream_table(self) -> Path | None:
        return None


_DEFAULTS = AdapterBase()


def optional(adapter: Any, name: str) -> Any:
    """An optional member of `adapter`, or AdapterBase's default when the adapter lacks it."""
    return getattr(adapter, name) if hasattr(adapter, name) else getattr(_DEFAULTS, name)


def generate_from(
    adapter: Any,
    prompts: Sequence[Sequence[str]],
    n_samples: int,
    max_new_codes: int,
    temperature: float,
    top_p: float,
    seed: int,
    first_sample: int = 0,
) -> list[list[list[str]]]:
    """Samples `first_sample` .. `first_sample + n_samples - 1` of each prompt from any adapter: with
    its `first_sample` parameter when it has one, else by asking for all of them from 0."""
    if not first_sample:
        return adapter.generate(prompts, n_samples, max_new_codes, temperature, top_p, seed)
    if "first_sample" in inspect.signature(adapter.generate).parameters:
        return adapter.generate(
            prompts, n_samples, max_new_codes, temperature, top_p, seed, first_sample=first_sample
        )
    full = adapter.generate(prompts, first_sample + n_samples, max_new_codes, temperature, top_p, seed)
    return [samples[first_sample:] for samples in full]


def sample_seed(seed: int, prompt: Sequence[str], sample_index: int) -> int:
    """The seed of one sample: a function of the run seed, the prompt and the sample index only."""
    h = hashlib.sha256(f"{seed}\x1e{chr(31).join(prompt)}\x1e{sample_index}".encode()).digest()
    return int.from_bytes(h[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF
