"""Sequential sampling end to end on the tiny model: the same T2 decisions as sampling every
prompt to the cap, for fewer samples, and the report says what was spent."""

from __future__ import annotations

from pathlib import Path

from memaudit.adapters.hf import HFAdapter
from memaudit.config import load_config


def _flags(outcome, threshold: float) -> dict:
    """T2's flag decision of every subject with a group due within the horizon (either arm)."""
    p_hat, ctx = outcome.results["T2"].handoff.p_hat, outcome.context
    return {
        (g, t, s): v >= threshold
        for (g, t), scores in p_hat.items()
        for s, v in scores.items()
        if ctx.horizon_labels(g, t)[s]
    }


def test_sequential_decides_as_the_cap_does_for_fewer_samples(
    cohort_dir: Path, model_dir: Path, tiny_audit: dict, audit_run, tmp_path: Path
) -> None:
    adapter = HFAdapter(model_dir, batch_size=64)
    base = {**tiny_audit, "tiers": ["codes:10"], "t5": {**tiny_audit["t5"], "n_samples_original": 32}}
    runs = {}
    for sequential in (False, True):
        generation = {**tiny_audit["generation"], "n_samples": 32, "first_round": 8, "sequential": sequential}
        config = load_config(overrides={**base, "generation": generation})
        runs[sequential] = (config, audit_run(cohort_dir, adapter, config, tmp_path / str(sequential)))
    threshold = runs[True][0].t2.threshold
    fixed, seq = _flags(runs[False][1], threshold), _flags(runs[True][1], threshold)
    assert fixed.keys() == seq.keys()
    agreement = sum(fixed[k] == seq[k] for k in fixed) / len(fixed)
    assert agreement >= 0.99, agreement
    spent = runs[True][1].results["T2"].metrics["sampling"]
    at_cap = runs[False][1].results["T2"].metrics["sampling"]
    assert spent["sequential"] and not at_cap["sequential"]
    assert at_cap["samples_drawn"] == at_cap["samples_at_cap"] == spent["samples_at_cap"]
    assert spent["samples_drawn"] < spent["samples_at_cap"] and spent["stopped_early"] > 0
    assert runs[True][1].results["T1"].metrics["sampling"]["cap"] == 8  # T1 reads the first round
    t5 = runs[True][1].results["T5"].metrics.get("sampling")
    if runs[True][1].results["T5"].metrics.get("cases"):
        assert t5["cap"] == 32 and t5["samples_drawn"] <= t5["samples_at_cap"]
