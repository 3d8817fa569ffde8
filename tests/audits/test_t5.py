"""T5: the case budget, the identifier perturbations (description mode) and, with a real reference
model, the counterfactual verdicts against planted truth."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import meds
import polars as pl
import pytest

from memaudit.adapters.hf import HFAdapter
from memaudit.audits.handoffs import FlaggedCase
from memaudit.audits.t5 import cases as t5m
from memaudit.audits.t5 import perturbation as t5p
from memaudit.audits.t5.rejudge import rejudge as rejudge_t5
from memaudit.config import load_config
from memaudit.config.sections import ALL_UNSEEN
from memaudit.groundtruth.placebo import POSING_MEMBERS, TRUE_NON_MEMBERS, PlaceboDataset
from memaudit.synthetic.trainer import TrainConfig, train_model


def test_perturbations_follow_the_cohorts_conventions(tiny_outcome) -> None:
    ctx = tiny_outcome.context
    prompt = next(
        p.codes for p in ctx.prompts["codes:10"].values() if any(c.startswith("AGE//") for c in p.codes)
    )
    variants = t5p.perturbations(ctx, prompt, t5p.swap_candidates(ctx))
    assert {"sex", "code_swap"} <= set(variants) and any(k.startswith("age") for k in variants)
    for name, variant in variants.items():
        changed = [(a, b) for a, b in zip(prompt, variant) if a != b]
        assert len(changed) == 1, name
        old, new = changed[0]
        if name.startswith("age"):
            low_old, low_new = int(old[5:].split("-")[0]), int(new[5:].split("-")[0])
            assert (low_new - low_old) == 5 * int(name[3:])  # the cohort's band width
        assert ctx.known(new)  # nothing the model cannot read is sent
    assert t5p.describe({"original": 0.1, "sex": 0.0}, 0.1, 0.01, 0.05, 0.2, 0.3) == "not_replicated"
    assert t5p.describe({"original": 0.6, "sex": 0.1}, 0.5, 0.01, 0.05, 0.2, 0.3) == "identifier_sensitive"
    assert t5p.describe({"original": 0.6, "sex": 0.6}, 0.0, 0.5, 0.05, 0.2, 0.3) == "identifier_stable"


def test_without_a_reference_model_t5_describes_and_never_fails(tiny_outcome) -> None:
    t5 = tiny_outcome.results["T5"]
    assert t5.metrics["mode"] == "perturbation" and t5.status in ("pass", "warn")
    assert set(t5.metrics["counts"]) == {
        "identifier_sensitive",
        "identifier_stable",
        "inconclusive",
        "not_replicated",
    }
    assert t5.metrics["cases"] and all(isinstance(r["prompt_evidence"], bool) for r in t5.metrics["cases"])
    assert "cannot" not in t5.summary and "not show memorization" in t5.summary
    assert set(t5.metrics["families_run"]) <= {"age", "sex", "code_swap"} and t5.metrics["families_run"]


def test_the_budget_goes_first_to_flags_the_prompt_does_not_explain(tiny_outcome) -> None:
    ctx = tiny_outcome.context
    group = max(ctx.config.sensitive_groups, key=lambda g: sum(ctx.labels(g).values()))
    linked = ctx.linked_codes(group)
    prompts = ctx.prompts["codes:10"]
    once = [s for s in ctx.members if s in prompts and s not in ctx.cohort.repeated]
    explained = next(s for s in once if set(prompts[s].codes) & linked)
    unexplained = next(s for s in once if not set(prompts[s].codes) & linked)
    # the explained flag is the more extreme one, and still comes second
    flagged = [
        FlaggedCase(explained, group, "codes:10", 1.0),
        FlaggedCase(unexplained, group, "codes:10", 0.4),
    ]
    chosen = t5m.cases(ctx, flagged, tiny_outcome.results["T2"].handoff)
    assert [c.subject_id for c in chosen] == [unexplained, explained]
    # a record the data repeats is judged first, whatever the budget
    repeated = [s for s in ctx.members if s in prompts and s in ctx.cohort.repeated]
    assert len(repeated) > ctx.config.t5.max_cases
    many = [FlaggedCase(s, group, "codes:10", 0.5) for s in repeated] + flagged
    chosen = t5m.cases(ctx, many, tiny_outcome.results["T2"].handoff)
    assert sorted(c.subject_id for c in chosen) == sorted(repeated)  # all of them, the budget spent
    # a member at 3 of 8 where non-members sit at 5% is more surprising than one at 8 of 8 where
    # they sit at 90%
    assert t5m.surprise(3 / 8, 0.05, 8) < t5m.surprise(1.0, 0.9, 8)
    nulls = t5m.null_cases(ctx, tiny_outcome.results["T2"].handoff.p_hat)
    assert nulls and all(
        ctx.arm(n.subject_id) == "non_member" and n.p_hat >= ctx.config.t2.threshold for n in nulls
    )
    assert all(ctx.horizon_labels(n.group, n.tier)[n.subject_id] for n in nulls)


def test_the_drop_test_uses_binomial_noise_and_the_null_offset() -> None:
    sharp = {"original": 0.9, **{f"p{i}": 0.2 for i in range(9)}}
    assert t5p.drop_p(sharp, 20, 20, 0.0) < 1e-6
    assert t5p.drop_p(sharp, 20, 20, 0.7) == pytest.approx(0.5, abs=0.01)  # no more than non-members drop
    noisy = {
        "original": 0.45,
        **{f"p{i}": 0.25 for i in range(9)},
    }  # a 0.2 drop is within noise at 20 samples
    assert 0.01 < t5p.drop_p(noisy, 20, 20, 0.0) < 0.1
    assert t5p.drop_p(noisy, 100, 20, 0.0) < 0.001  # ... and clear with 100 samples of the original
    assert t5p.drop_p({"original": 0.5}, 20, 20, 0.0) == 1.0


@pytest.fixture(scope="module")
def reference_dir(cohort_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "hf"
    train_model(cohort_dir, out, TrainConfig(epochs=20, seed=1, hold_out=0.5), progress=False)
    return out


def test_with_a_reference_model_memorized_cases_are_canaries_and_patterns_are_not(
    cohort_dir: Path,
    model_dir: Path,
    reference_dir: Path,
    tmp_path: Path,
    audit_run,
    tiny_audit: dict,
) -> None:
    unseen = set(pl.read_parquet(reference_dir / "unseen_members.parquet")["subject_id"].to_list())
    config = load_config(
        overrides={
            **tiny_audit,
            "reference": {"model": str(reference_dir)},
            "t5": {**tiny_audit["t5"], "n_null": 60, "n_samples_original": 40},
        }
    )
    outcome = audit_run(cohort_dir, HFAdapter(model_dir), config, tmp_path / "run", HFAdapter(reference_dir))
    t5 = outcome.results["T5"]
    assert t5.metrics["mode"] == "counterfactual" and t5.metrics["n_null"] >= 10, t5.summary
    assert {r["subject_id"] for r in t5.metrics["cases"]} <= unseen  # only members the reference never saw
    truth = pl.read_parquet(cohort_dir / "ground_truth.parquet")
    kind = {
        (r["subject_id"], p["group"]): (p["kind"], r["canary_repetitions"])
        for r in truth.iter_rows(named=True)
        for p in r["planted"] or []
    }
    for row in t5.metrics["cases"]:
        planted, repeats = kind.get((row["subject_id"], row["group"]), ("none", 0))
        if row["verdict"] == "memorized":
            assert planted == "random" and repeats >= 5, row
    assert "reference_calibrated" in outcome.results["T4"].metrics["by_score"]  # one reference, both tests
    # the verdict's stability re-judges T5 from its own table: every subject drawn once is the audit
    ctx = outcome.context
    assert rejudge_t5(t5, ctx, Counter(ctx.members + ctx.non_members)) == t5.status
    assert outcome.stability["recomputed"] == outcome.stability["resamples"] > 0
    assert t5.metrics["null_tail"]["p_value_from"] in ("student_t", "empirical")


def test_a_placebo_audit_judges_its_posing_members(
    cohort_dir: Path,
    model_dir: Path,
    reference_dir: Path,
    tmp_path: Path,
    audit_run,
    tiny_audit: dict,
) -> None:
    """The placebo: both arms are non-members, so neither model saw a posing member. Its T5 must
    judge their flagged cases (reference.unseen_members: all), not fall back to the
    unseen_members.parquet beside the reference, which lists none of them and leaves a T5 that
    judges nothing, a check that cannot fail."""
    assert (reference_dir / "unseen_members.parquet").exists()
    placebo = PlaceboDataset(cohort_dir, meds.held_out_split, seed=0)
    config = load_config(
        overrides={
            **tiny_audit,
            "splits": {"members": POSING_MEMBERS, "non_members": TRUE_NON_MEMBERS},
            "reference": {"model": str(reference_dir), "unseen_members": ALL_UNSEEN},
            "t5": {**tiny_audit["t5"], "n_null": 60, "n_samples_original": 40},
            "statistics": {**tiny_audit["statistics"], "stability_resamples": 0},
        }
    )
    outcome = audit_run(placebo, HFAdapter(model_dir), config, tmp_path / "run", HFAdapter(reference_dir))
    t5 = outcome.results["T5"]
    assert outcome.context.reference_unseen is None  # every posing member unseen
    assert t5.metrics["mode"] == "counterfactual", t5.summary
    assert len(t5.metrics["cases"]) > 0, t5.summary
    assert t5.metrics["counts"].get("memorized", 0) == 0, t5.summary
