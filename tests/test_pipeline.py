"""The pipeline: prepare → run → write, cached and resumable."""

from __future__ import annotations

import json
from pathlib import Path

from memaudit.adapters.hf import HFAdapter
from memaudit.config import load_config

SMALL = {
    "subjects_per_arm": 20,
    "tiers": ["static", "codes:10"],
    "generation": {"n_samples": 6, "max_new_codes": 64},
    "statistics": {"n_bootstrap": 200},
    "t5": {"max_cases": 12, "n_null": 19, "n_samples": 8, "n_samples_original": 16},
}


def test_rerun_is_served_from_the_cache(cohort_dir: Path, model_dir: Path, tmp_path: Path, audit_run) -> None:
    config = load_config(overrides=SMALL)
    first = audit_run(cohort_dir, HFAdapter(model_dir), config, tmp_path / "run")
    second = audit_run(cohort_dir, HFAdapter(model_dir), config, tmp_path / "run")
    assert (
        first.cache_misses > 0
        and second.cache_misses == 0
        and second.cache_hits == first.cache_misses + first.cache_hits
    )
    dump = lambda o: json.dumps({k: (r.status, r.summary) for k, r in o.results.items()})
    assert dump(first) == dump(second)
