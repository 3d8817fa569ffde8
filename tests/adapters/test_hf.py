"""The hf backend: one-pass scoring, seeded generation, unknown codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from memaudit.adapters.base import generate_from
from memaudit.adapters.hf import HFAdapter
from memaudit.cohort.meds_reader import MedsDataset


def test_score_is_one_pass_and_matches_a_per_prefix_loop(cohort_dir: Path, model_dir: Path) -> None:
    ds, adapter = MedsDataset(cohort_dir), HFAdapter(model_dir)
    timeline = next(iter(ds.timelines(ds.arm_ids("held_out")[:1]).values()))
    codes = timeline.codes[:30]
    fast = adapter.score([codes])[0].logprobs
    ids = [adapter.tokenizer.bos_id] + adapter.tokenizer.encode(codes)
    slow = []
    with torch.no_grad():
        for t in range(1, len(ids)):
            logits = adapter.model(input_ids=torch.tensor([ids[:t]])).logits[0, -1]
            slow.append(float(torch.log_softmax(logits, -1)[ids[t]]))
    np.testing.assert_allclose(fast, slow, atol=1e-4)


def test_generation_is_seeded_and_independent_of_batching(model_dir: Path) -> None:
    adapter = HFAdapter(model_dir, batch_size=4)
    prompts = [
        ["SEX//F", "AGE//70-74"],
        ["SEX//M", "AGE//30-34", "LAB//SODIUM//NORMAL"],
        ["SEX//F", "AGE//70-74"],
    ]
    a = adapter.generate(prompts, 3, 12, 1.0, 0.9, seed=7)
    b = adapter.generate(prompts[1:2], 3, 12, 1.0, 0.9, seed=7)
    c = adapter.generate(prompts, 3, 12, 1.0, 0.9, seed=8)
    assert a[1] == b[0] and a[0] == a[2]
    assert a != c
    assert all(len(s) <= 12 for samples in a for s in samples) and any(len(s) > 0 for s in a[0])
    vocab = set(adapter.tokenizer.codes())
    assert all(code in vocab for samples in a for s in samples for code in s)


def test_a_later_round_of_samples_extends_the_earlier_one(model_dir: Path) -> None:
    """Sequential sampling asks for samples 16.. after 0..15: they must be the ones a single
    request for all of them would have drawn, in any batch."""
    adapter = HFAdapter(model_dir, batch_size=5)
    prompts = [["SEX//F", "AGE//70-74"], ["SEX//M", "AGE//30-34", "LAB//SODIUM//NORMAL"]]
    whole = adapter.generate(prompts, 12, 10, 1.0, 1.0, seed=4)
    later = adapter.generate(prompts[::-1], 5, 10, 1.0, 1.0, seed=4, first_sample=7)
    assert later[::-1] == [samples[7:] for samples in whole]
    assert generate_from(adapter, prompts, 5, 10, 1.0, 1.0, 4, first_sample=7) == later[::-1]


def test_unknown_codes_are_counted_not_crashed_on(model_dir: Path) -> None:
    adapter = HFAdapter(model_dir)
    result = adapter.score([["SEX//F", "NEVER//SEEN//CODE", "NEVER//SEEN//CODE"]])[0]
    assert result.logprobs.shape == (3,) and np.isfinite(result.logprobs).all()
    assert adapter.tokenizer.unknown_counts["NEVER//SEEN//CODE"] == 2
    emb = adapter.embed([["SEX//F"], ["SEX//M", "AGE//40-44"]])
    assert emb.shape == (2, adapter.model.config.hidden_size) and not np.allclose(emb[0], emb[1])
