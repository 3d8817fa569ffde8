"""`check_adapter`: a conformance check that any backend can run before it audits a model."""

from __future__ import annotations

import inspect

import numpy as np

from .adapters.base import EMBED, GENERATE, SCORE

PROMPTS = [
    ["SEX//F", "AGE//70-74"],
    ["SEX//M", "AGE//30-34", "LAB//SODIUM//NORMAL"],
    ["SEX//F", "AGE//70-74"],
]


def check_adapter(adapter, n_samples: int = 4, max_new_codes: int = 6, seed: int = 0) -> list[str]:
    """Exercise every capability the adapter declares; return the checks that passed or raise
    AssertionError saying which contract was broken."""
    passed = []
    caps = frozenset(adapter.capabilities())
    assert caps and caps <= {GENERATE, SCORE, EMBED}, (
        f"capabilities() must be a non-empty subset of generate/score/embed, got {caps}"
    )
    fp = adapter.fingerprint()
    assert isinstance(fp, str) and fp and fp == adapter.fingerprint(), (
        "fingerprint() must be a stable non-empty string"
    )
    passed.append("capabilities and fingerprint")
    if GENERATE in caps:
        out = adapter.generate(PROMPTS, n_samples, max_new_codes, 1.0, 1.0, seed)
        assert len(out) == len(PROMPTS), "generate must return one entry per prompt, in order"
        assert all(len(s) == n_samples for s in out), "generate must return n_samples samples per prompt"
        assert all(isinstance(c, str) for s in out for x in s for c in x), (
            "samples must be lists of code strings"
        )
        assert all(len(x) <= max_new_codes for s in out for x in s), "samples must respect max_new_codes"
        again = adapter.generate(PROMPTS[1:2], n_samples, max_new_codes, 1.0, 1.0, seed)
        assert again[0] == out[1], (
            "a prompt's samples must depend on (seed, prompt, index) only, not on its batch"
        )
        assert out[0] == out[2], "equal prompts must get equal samples under one seed"
        passed.append("generate: order, counts, lengths, seeding independent of batching")
        if "first_sample" in inspect.signature(adapter.generate).parameters:
            later = adapter.generate(
                PROMPTS[:2], 2, max_new_codes, 1.0, 1.0, seed, first_sample=n_samples - 2
            )
            assert [s[-2:] for s in out[:2]] == later, (
                "generate(..., first_sample=i) must return samples i, i+1, ... of the full draw (sequential "
                "sampling extends earlier rounds)"
            )
            passed.append("generate: a later round extends the earlier samples")
    seqs = [p + ["LAB//SODIUM//NORMAL"] for p in PROMPTS]
    if SCORE in caps:
        res = adapter.score(seqs)
        assert len(res) == len(seqs), "score must return one result per sequence, in order"
        for r, s in zip(res, seqs):
            assert r.logprobs.shape == (len(s),), "score must give one log-probability per code"
            assert np.all(np.isfinite(r.logprobs)) and np.all(r.logprobs <= 1e-6), (
                "log-probabilities must be finite and <= 0"
            )
            assert r.mean.shape == r.std.shape == r.logprobs.shape, "mean and std must align with logprobs"
        np.testing.assert_allclose(
            adapter.score(seqs[1:2])[0].logprobs,
            res[1].logprobs,
            atol=1e-4,
            err_msg="score must not depend on the batch",
        )
        passed.append("score: shapes, finite log-probabilities, batch independence")
    if EMBED in caps:
        emb = np.asarray(adapter.embed(seqs))
        assert emb.ndim == 2 and emb.shape[0] == len(seqs), "embed must return an (n, d) array"
        assert np.all(np.isfinite(emb)), "embeddings must be finite"
        np.testing.assert_allclose(emb[0], emb[2], atol=1e-4, err_msg="equal sequences must embed equally")
        passed.append("embed: shape, finite, deterministic")
    return passed
