"""The built-in model: trained on the member split, it memorizes what it saw repeatedly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from memaudit.adapters.hf import HFAdapter
from memaudit.cohort.meds_reader import MedsDataset


def _mean_loss(adapter: HFAdapter, timelines) -> np.ndarray:
    return np.array([-r.logprobs.mean() for r in adapter.score([t.codes for t in timelines.values()])])


def test_heavily_repeated_canaries_reach_lower_loss_than_held_out(cohort_dir: Path, model_dir: Path) -> None:
    ds, adapter = MedsDataset(cohort_dir), HFAdapter(model_dir)
    gt = pl.read_parquet(cohort_dir / "ground_truth.parquet")
    canaries = gt.filter(pl.col("canary_repetitions") >= 20)["subject_id"].to_list()
    held = _mean_loss(adapter, ds.timelines(ds.arm_ids("held_out")))
    can = _mean_loss(adapter, ds.timelines(canaries))
    assert can.max() < np.quantile(held, 0.05), (can, np.quantile(held, 0.05))
    assert can.mean() < held.mean() - 0.5
