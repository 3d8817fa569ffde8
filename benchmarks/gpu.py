"""The hf backend's generation speed inside the audit against raw `generate`, and the audit's
share of time outside the model, side by side in one run on one device.

    python benchmarks/gpu.py [--dir demo_run] [--device auto] [--dtype auto] [--per-arm 100] [--samples 16]

On the demo's model (`memaudit demo --out DIR` builds it if missing) and the audit's own prompts
(T2's first round at --per-arm subjects per arm):

- raw: `model.generate(do_sample=True)` on the same token ids, in the same equal-length batches;
- audit: `HFAdapter.generate`, i.e. the seeded per-sample sampler and decoding to codes;
- whole audit: T1-T6 with a fresh cache, the seconds inside generate / score / embed against the
  wall time (the share outside the model is the audit's own work: statistics, dEMD, cohort).

Generated codes per second count codes (the built-in model has one token per code). Written for a
GPU (bf16, batches sized to its memory); on a CPU it measures the same things at CPU speed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

from memaudit import pipeline
from memaudit.adapters.hf import HFAdapter
from memaudit.audits.t2.sensitive import requests as t2_requests
from memaudit.cohort.meds_reader import MedsDataset
from memaudit.config import load_config
from memaudit.rundir import RunDir
from memaudit.synthetic.demo import run_demo

sys.path.insert(0, str(Path(__file__).parent))
from sequential import CountingAdapter


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def raw_generate(
    adapter: HFAdapter, prompts: list[tuple[str, ...]], n: int, max_new: int
) -> tuple[int, float]:
    """Generated tokens and seconds of plain sampling on the prompts' token ids."""
    rows: dict[int, list[list[int]]] = defaultdict(list)
    for p in prompts:
        ids, _ = adapter._prompt_ids(p, max_new)
        rows[len(ids)] += [ids] * n
    torch.manual_seed(0)
    tokens, t0 = 0, time.perf_counter()
    for length, batch in sorted(rows.items()):
        step = adapter.rows_per_batch(length + max_new)
        for start in range(0, len(batch), step):
            ids = torch.tensor(batch[start : start + step], device=adapter.device)
            with torch.no_grad():
                out = adapter.model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    do_sample=True,
                    max_new_tokens=max_new,
                    pad_token_id=adapter.tokenizer.pad_id,
                    eos_token_id=adapter.tokenizer.eos_id,
                )
            new = out[:, length:]
            tokens += int((new != adapter.tokenizer.pad_id).sum())
    sync(adapter.device)
    return tokens, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="demo_run")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--per-arm", type=int, default=100)
    ap.add_argument("--samples", type=int, default=16)
    args = ap.parse_args()
    root = Path(args.dir)
    if not (root / "model" / "config.json").exists():
        run_demo(root, 2000, 12, 0, quiet=True)
    overrides = {
        "subjects_per_arm": args.per_arm,
        "hardware": {"device": args.device, "dtype": args.dtype},
        "generation": {"n_samples": args.samples, "sequential": False},
    }
    config = load_config(overrides=overrides)
    g = config.generation
    adapter = HFAdapter(root / "model", batch_size=g.batch_size, device=args.device, dtype=args.dtype)
    dataset = MedsDataset(root / "data")
    ctx = pipeline.prepare(dataset, config, adapter)
    prompts = sorted({r.prompt for r in t2_requests(ctx)})
    raw_tokens, raw_seconds = raw_generate(adapter, prompts, g.n_samples, g.max_new_codes)
    t0 = time.perf_counter()
    samples = adapter.generate(prompts, g.n_samples, g.max_new_codes, g.temperature, g.top_p, config.seed)
    sync(adapter.device)
    audit_seconds = time.perf_counter() - t0
    audit_codes = sum(len(s) for per_prompt in samples for s in per_prompt)
    counted = CountingAdapter(adapter)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d, RunDir.open(Path(d) / "run") as run:
        ctx = pipeline.prepare(dataset, config, counted)
        pipeline.run(ctx, dataset, counted, run)
    wall = time.perf_counter() - t0
    result = {
        "device": adapter.device,
        "dtype": str(adapter.dtype).replace("torch.", ""),
        "gpu": torch.cuda.get_device_name(0) if adapter.device.startswith("cuda") else None,
        "prompts": len(prompts),
        "samples_per_prompt": g.n_samples,
        "raw_generate_codes_per_second": round(raw_tokens / raw_seconds, 1),
        "audit_generate_codes_per_second": round(audit_codes / audit_seconds, 1),
        "audit_vs_raw": round((audit_codes / audit_seconds) / (raw_tokens / raw_seconds), 3),
        "whole_audit_wall_seconds": round(wall, 1),
        "whole_audit_model_seconds": round(counted.seconds, 1),
        "share_outside_model": round((wall - counted.seconds) / wall, 3),
    }
    print(json.dumps(result, indent=2))
    r = result
    print(
        f"on {r['device']} ({r['dtype']}): the audit generates {r['audit_generate_codes_per_second']} "
        "codes/s "
        f"vs {r['raw_generate_codes_per_second']} for raw generate ({r['audit_vs_raw']:.0%}); "
        f"{r['share_outside_model']:.0%} of the whole audit's time is outside the model"
    )


if __name__ == "__main__":
    main()
