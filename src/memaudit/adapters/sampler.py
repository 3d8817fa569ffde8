"""Seeded sampling for transformers' generate: a sample depends only on (seed, prompt, sample
index), never on the batch it travels in or the device."""

from __future__ import annotations

from collections.abc import Sequence

import torch

SAMPLER = "gumbel-splitmix64"  # the cache keys on it: another sampler draws other samples
# splitmix64 constants as signed int64 (torch has no uint64 arithmetic; int64 products wrap)
_GOLDEN, _MIX1, _MIX2 = -7046029254386353131, -4658895280553007687, -7723592293110705685
_MASKS = {k: (1 << (64 - k)) - 1 for k in (27, 30, 31, 40)}


def _shr(x: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 values (torch's >> keeps the sign)."""
    return (x >> k) & _MASKS[k]


def seeded_uniforms(seeds: torch.Tensor, step: int, vocab: int) -> torch.Tensor:
    """(rows, vocab) uniforms in (0, 1): a splitmix64 hash of (row seed, step, token index).

    A counter-based generator: a row's noise depends on its own seed and the step alone, never on
    the batch it travels in or the device (integer arithmetic is exact on CPU and GPU), and a
    whole batch is drawn in a few tensor operations."""
    tokens = torch.arange(vocab, device=seeds.device, dtype=torch.int64) + step * vocab
    x = seeds[:, None] * _GOLDEN + tokens[None, :] * _MIX2
    x = (x ^ _shr(x, 30)) * _MIX1
    x = (x ^ _shr(x, 27)) * _MIX2
    x = x ^ _shr(x, 31)
    return (_shr(x, 40).to(torch.float64) + 0.5) / float(1 << 24)


class SeededSampler:
    """A logits processor that turns greedy decoding into seeded sampling (Gumbel-max): each
    row's noise comes from `seeded_uniforms` of its own sample seed, so a sample depends only on
    (seed, prompt, sample index). Temperature and top-p act on the log-probabilities first."""

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float, banned: Sequence[int]) -> None:
        self.seeds = torch.tensor([int(s) for s in seeds], dtype=torch.int64)
        self.temperature, self.top_p, self.banned = temperature, top_p, list(banned)
        self.step = 0

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.float().clone()
        scores[:, self.banned] = -float("inf")
        if self.temperature == 0:
            return scores
        logp = torch.log_softmax(scores / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_lp, order = torch.sort(logp, descending=True, dim=-1)
            cum = sorted_lp.exp().cumsum(-1)
            drop_sorted = cum - sorted_lp.exp() >= self.top_p
            drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
            logp = logp.masked_fill(drop, -float("inf"))
        if self.seeds.device != logp.device:
            self.seeds = self.seeds.to(logp.device)
        u = seeded_uniforms(self.seeds, self.step, logp.shape[-1])
        self.step += 1
        gumbel = -torch.log(-torch.log(u))
        return logp + gumbel.to(logp.dtype)
