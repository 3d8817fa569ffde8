"""Answering requests: each distinct request once, in chunks large enough for a backend to fill
its batches, each chunk committed to the response cache as it finishes (a killed run loses at most
one chunk)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from ..progress import progress_bar
from ..prompts.requests import AUDITED, Generate, Request, Score
from .base import ModelAdapter, generate_from


def fulfil(
    requests: Iterable[Request], models: Mapping[str, ModelAdapter], chunk: int = 2048, progress: bool = False
) -> dict[Request, object]:
    """The response to each request. `models` maps a request's `model` (audited, reference) to the
    adapter that answers it; `chunk` rows (prompts × samples, or sequences) go to an adapter per
    call."""
    unique = list(dict.fromkeys(requests))
    out: dict[Request, object] = {}
    groups: dict[tuple, list[Request]] = defaultdict(list)
    for r in unique:
        key = (r.model, type(r).__name__)
        if isinstance(r, Generate):
            key += (r.n_samples, r.max_new_codes, r.temperature, r.top_p, r.seed, r.first_sample)
        groups[key].append(r)
    with progress_bar(progress, total=len(unique), desc="model calls", unit="req") as bar:
        for _, items in sorted(groups.items(), key=lambda kv: (kv[0][0] != AUDITED, kv[0])):
            adapter = models[items[0].model]
            step = max(1, chunk // (items[0].n_samples if isinstance(items[0], Generate) else 1))
            for start in range(0, len(items), step):
                part = items[start : start + step]
                first = part[0]
                if isinstance(first, Generate):
                    answers = generate_from(
                        adapter,
                        [r.prompt for r in part],
                        first.n_samples,
                        first.max_new_codes,
                        first.temperature,
                        first.top_p,
                        first.seed,
                        first.first_sample,
                    )
                elif isinstance(first, Score):
                    answers = adapter.score([r.sequence for r in part])
                else:
                    answers = list(adapter.embed([r.sequence for r in part]))
                out.update(zip(part, answers))
                bar.update(len(part))
    return out
