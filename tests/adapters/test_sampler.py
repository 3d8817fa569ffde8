"""The seeded sampler's noise: a counter hash of (seed, step, token), equal on any device."""

from __future__ import annotations

import numpy as np
import torch

from memaudit.adapters.sampler import seeded_uniforms


def test_sampling_noise_is_the_counter_hash_on_any_device() -> None:
    """The sampler's uniforms equal a plain-integer splitmix64 of (seed, step, token): exact
    integer arithmetic, so a GPU draws the same samples as the CPU."""
    mask = (1 << 64) - 1

    def reference(seed: int, step: int, token: int) -> float:
        x = (seed * 0x9E3779B97F4A7C15 + (step * 7 + token) * 0x94D049BB133111EB) & mask
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        x ^= x >> 31
        return ((x >> 40) + 0.5) / (1 << 24)

    seeds = [0, 1, 2**62 + 12345, 2**63 - 1]
    u = seeded_uniforms(torch.tensor(seeds, dtype=torch.int64), step=3, vocab=7).numpy()
    expected = [[reference(s, 3, t) for t in range(7)] for s in seeds]
    np.testing.assert_array_equal(u, expected)
    assert ((u > 0) & (u < 1)).all() and len(np.unique(u)) == u.size
