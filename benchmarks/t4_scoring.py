"""T4 scoring: memaudit's single forward pass vs the per-prefix loop (one pass per prefix, as
naive Min-K% code does), on the same model and sequences, side by side in one run.

    python benchmarks/t4_scoring.py [--codes 128] [--sequences 16] [--model MODEL_DIR]

Without --model, a tiny Llama is trained for one epoch on a small synthetic cohort first."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from memaudit.adapters.hf import HFAdapter


def tiny_model(where: Path) -> Path:
    from memaudit.synthetic.cohort import SynthConfig, write_cohort
    from memaudit.synthetic.trainer import TrainConfig, train_model

    write_cohort(where / "data", SynthConfig(n_subjects=200, canaries_per_repetition=2), progress=False)
    train_model(where / "data", where / "model", TrainConfig(epochs=1), progress=False)
    return where / "model"


def per_prefix_loop(adapter: HFAdapter, codes: list[str]) -> np.ndarray:
    ids = [adapter.tokenizer.bos_id] + adapter.tokenizer.encode(codes)
    out = []
    with torch.no_grad():
        for t in range(1, len(ids)):
            logits = adapter.model(input_ids=torch.tensor([ids[:t]])).logits[0, -1]
            out.append(float(torch.log_softmax(logits.float(), -1)[ids[t]]))
    return np.array(out)


def measure(adapter: HFAdapter, n_codes: int, n_sequences: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    vocab = adapter.tokenizer.codes()
    seqs = [[vocab[i] for i in rng.integers(0, len(vocab), n_codes)] for _ in range(n_sequences)]
    t0 = time.perf_counter()
    fast = adapter.score(seqs)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = [per_prefix_loop(adapter, s) for s in seqs]
    t_slow = time.perf_counter() - t0
    diff = max(float(np.max(np.abs(f.logprobs - s))) for f, s in zip(fast, slow))
    return {
        "t4_codes": n_codes,
        "t4_sequences": n_sequences,
        "t4_single_pass_seconds": t_fast,
        "t4_per_prefix_seconds": t_slow,
        "t4_speedup": t_slow / t_fast,
        "t4_max_abs_diff": diff,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--codes", type=int, default=128)
    ap.add_argument("--sequences", type=int, default=16)
    ap.add_argument("--model")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        model = Path(args.model) if args.model else tiny_model(Path(d))
        result = measure(HFAdapter(model, batch_size=16), args.codes, args.sequences)
    print(json.dumps(result, indent=2))
    print(
        f"single pass is {result['t4_speedup']:.1f}x faster than the per-prefix loop at {args.codes} codes; "
        f"max |diff| {result['t4_max_abs_diff']:.2e}"
    )


if __name__ == "__main__":
    main()
