"""Model calls that audits declare, and the runner that fulfils them once each, in batches."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Union



@dataclass(frozen=True)
class Generate:
    prompt: tuple[str, ...]
    n_samples: int
    max_new_codes: int
    temperature: float
    top_p: float


@dataclass(frozen=True)
class Score:
    sequence: tuple[str, ...]


@dataclass(frozen=True)
class Embed:
    sequence: tuple[str, ...]


Request = Union[Generate, Score, Embed]


def fulfil(requests: Iterable[Request], adapter, seed: int, chunk: int = 2048,  # noqa: ANN001
           progress: bool = False) -> dict[Request, object]:
    """Answer each distinct request once. `chunk` rows (prompts × samples, or sequences) go to the
    adapter per call, large enough for it to fill batches of equal-length prompts; each chunk is
    committed to the cache as it finishes, so a killed run loses at most one chunk."""
    from tqdm import tqdm

    unique = list(dict.fromkeys(requests))
    out: dict[Request, object] = {}
    groups: dict[tuple, list[Request]] = defaultdict(list)
    for r in unique:
        key = (type(r).__name__,) + ((r.n_samples, r.max_new_codes, r.temperature, r.top_p) if isinstance(r, Generate) else ())
        groups[key].append(r)
    with tqdm(total=len(unique), desc="model calls", disable=not progress, unit="req") as bar:
        for key, items in sorted(groups.items(), key=lambda kv: kv[0]):
            step = max(1, chunk // (items[0].n_samples if isinstance(items[0], Generate) else 1))
            for start in range(0, len(items), step):
                part = items[start:start + step]
                if isinstance(part[0], Generate):
                    g = part[0]
                    answers = adapter.generate([r.prompt for r in part], g.n_samples, g.max_new_codes,
                                               g.temperature, g.top_p, seed)
                elif isinstance(part[0], Score):
                    answers = adapter.score([r.sequence for r in part])
                else:
                    answers = list(adapter.embed([r.sequence for r in part]))
                out.update(zip(part, answers))
                bar.update(len(part))
    return out


Responses = Mapping[Request, object]
