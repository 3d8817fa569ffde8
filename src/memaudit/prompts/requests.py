"""What is sent to a model: generation, scoring and embedding requests. Audits declare them, the
runner answers each distinct request once (adapters/dispatch.py), and exported prompts are
generation requests written to a file (prompts/export.py).

A request names the model that must answer it: the audited model, or the reference model (a model
of the same recipe that never saw the audited subjects)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

AUDITED, REFERENCE = "audited", "reference"


@dataclass(frozen=True)
class Generate:
    """`n_samples` continuations of `prompt`, each at most `max_new_codes` codes: samples
    `first_sample` .. `first_sample + n_samples - 1`, sample j seeded by (seed, prompt, j) alone, so
    a later round of samples extends an earlier one. temperature 0 is greedy decoding."""

    prompt: tuple[str, ...]
    n_samples: int
    max_new_codes: int
    temperature: float
    top_p: float
    seed: int
    model: str = AUDITED
    first_sample: int = 0


@dataclass(frozen=True)
class Score:
    """log p of each code of `sequence` given the codes before it, in one forward pass."""

    sequence: tuple[str, ...]
    model: str = AUDITED


@dataclass(frozen=True)
class Embed:
    """One vector for `sequence` (the last hidden state at its last code)."""

    sequence: tuple[str, ...]
    model: str = AUDITED


Request = Generate | Score | Embed
Responses = Mapping[Request, object]


def prompt_hash(
    prompt: Sequence[str], n_samples: int, max_new_codes: int, temperature: float, top_p: float
) -> str:
    """The key that ties an exported generation request to the samples returned for it."""
    blob = json.dumps(
        [list(prompt), n_samples, max_new_codes, float(temperature), float(top_p)], separators=(",", ":")
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]
