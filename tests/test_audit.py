"""The audit end to end on the tiny real cohort and model, plus each audit's math on arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from memaudit.adapters.base import ScoreResult
from memaudit.adapters.hf import HFAdapter
from memaudit.audits import t4_membership
from memaudit.audits.runner import run_audit
from memaudit.audits.stats import auroc
from memaudit.cohort.meds_reader import MedsDataset
from memaudit.config import load_config

OVERRIDES = {"subjects_per_arm": None, "tiers": ["none", "static", "codes:10", "codes:20"],
             "generation": {"n_samples": 6, "max_new_codes": 64}, "statistics": {"n_bootstrap": 200},
             "t5": {"max_cases": 12, "n_null": 19, "n_samples": 8, "n_samples_original": 16}}


@pytest.fixture(scope="module")
def outcome(cohort_dir: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    config = load_config(overrides=OVERRIDES)
    run_dir = tmp_path_factory.mktemp("run")
    return run_audit(MedsDataset(cohort_dir), HFAdapter(model_dir), config, run_dir / "cache.sqlite")


def _ground_truth(cohort_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(cohort_dir / "ground_truth.parquet")


def test_min_k_matches_a_direct_computation() -> None:
    lp = np.array([-0.1, -5.0, -0.2, -3.0, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8])
    r = ScoreResult(lp, np.full(10, -1.0), np.full(10, 2.0))
    assert t4_membership.min_k_score(r, 0.2) == pytest.approx((-5.0 - 3.0) / 2)
    assert t4_membership.min_k_plus_plus_score(r, 0.2) == pytest.approx(((-5.0 + 1) / 2 + (-3.0 + 1) / 2) / 2)
    assert t4_membership.loss_score(r) == pytest.approx(lp.mean())


def test_every_test_has_a_status_and_a_sentence(outcome) -> None:  # noqa: ANN001
    assert list(outcome.results) == ["T1", "T2", "T3", "T4", "T5", "T6"]
    for r in outcome.results.values():
        assert r.status in {"pass", "warn", "fail", "skipped"}
        assert r.summary.endswith(".") and len(r.summary) > 20


def test_t4_separates_heavily_repeated_canaries_from_non_members(outcome, cohort_dir: Path) -> None:  # noqa: ANN001
    gt = _ground_truth(cohort_dir)
    canaries = set(gt.filter(pl.col("canary_repetitions") >= 20)["subject_id"].to_list())
    scores = outcome.results["T4"].per_subject["t4_loss"]
    pos = np.array([scores[s] for s in canaries if s in scores])
    neg = np.array([scores[s] for s in outcome.context.non_members])
    assert pos.size == len(canaries) and auroc(pos, neg) > 0.9
    assert outcome.results["T4"].metrics["by_score"]["loss"]["tpr_at_fpr"][0]["status"] == "ok"


def test_t2_flags_the_random_plant_of_a_heavily_repeated_canary(outcome, cohort_dir: Path) -> None:  # noqa: ANN001
    gt = _ground_truth(cohort_dir).filter(pl.col("canary_repetitions") >= 20)
    plants = gt.explode("planted").drop_nulls("planted").unnest("planted").filter(pl.col("kind") == "random")
    random_plants = set(zip(plants["subject_id"].to_list(), plants["group"].to_list()))
    flagged = {(s, why.split(":")[1].split("@")[0]) for s, whys in outcome.results["T2"].flags.items() for why in whys}
    assert random_plants & flagged, "no random plant of a heavily repeated canary was flagged"


def test_members_and_non_members_are_disjoint_and_tiers_exclude_short_timelines(outcome) -> None:  # noqa: ANN001
    ctx = outcome.context
    assert not set(ctx.members) & set(ctx.non_members)
    assert ctx.excluded["codes:20"] >= ctx.excluded["codes:10"] >= ctx.excluded["static"]
    t1 = outcome.results["T1"].metrics["by_tier"]
    assert t1["codes:20"]["n_excluded_too_short"] == ctx.excluded["codes:20"]


def test_rerun_is_served_from_the_cache(cohort_dir: Path, model_dir: Path, tmp_path: Path) -> None:
    config = load_config(overrides={**OVERRIDES, "subjects_per_arm": 20, "tiers": ["static", "codes:10"]})
    first = run_audit(MedsDataset(cohort_dir), HFAdapter(model_dir), config, tmp_path / "c.sqlite")
    second = run_audit(MedsDataset(cohort_dir), HFAdapter(model_dir), config, tmp_path / "c.sqlite")
    assert first.cache_misses > 0 and second.cache_misses == 0 and second.cache_hits == first.cache_misses + first.cache_hits
    dump = lambda o: json.dumps({k: (r.status, r.summary) for k, r in o.results.items()})  # noqa: E731
    assert dump(first) == dump(second)


def test_t5_perturbs_identifiers_and_separates_unreplicated_flags(outcome) -> None:  # noqa: ANN001
    from memaudit.audits import t5_perturbation as t5

    ctx = outcome.context
    prompt = next(p.codes for p in ctx.prompts["codes:10"].values() if any(c.startswith("AGE//") for c in p.codes))
    variants = t5.perturbations(ctx, prompt, t5._candidates(ctx))
    assert {"sex", "code_swap"} <= set(variants) and any(k.startswith("age") for k in variants)
    assert sum(a != b for a, b in zip(variants["code_swap"], prompt)) == 1
    assert sum(a != b for a, b in zip(variants["sex"], prompt)) == 1
    assert t5.verdict_of({"original": 0.1, "sex": 0.0}, 0.1, 0.01, 0.05, 0.2, 0.3) == "not_replicated"
    assert t5.verdict_of({"original": 0.6, "sex": 0.1}, 0.5, 0.01, 0.05, 0.2, 0.3) == "memorized"
    assert t5.verdict_of({"original": 0.6, "sex": 0.6}, 0.0, 0.5, 0.05, 0.2, 0.3) == "generalized"
    # a member at 3 of 8 where non-members sit at 5% is more surprising than one at 8 of 8 where they sit at 90%
    assert t5._surprise(3 / 8, 0.05, 8) < t5._surprise(1.0, 0.9, 8)
    metrics = outcome.results["T5"].metrics
    assert set(metrics["counts"]) == {"memorized", "generalized", "inconclusive", "not_replicated"}
    assert metrics["cases"] and all(isinstance(r["prompt_evidence"], bool) for r in metrics["cases"])
    assert metrics["n_without_prompt_evidence"] == sum(not r["prompt_evidence"] for r in metrics["cases"])


def test_linked_codes_need_several_subjects_and_a_lift() -> None:
    from memaudit.audits.clinical_links import linked_codes

    # 600 subjects, 40 with the group; 12 of the 15 on drug D have it, 20 of the 300 with lab L do,
    # and the one subject with rare code R has it
    codes = {s: (["D"] if s < 15 else []) + (["L"] if s % 2 else []) + (["R"] if s == 0 else []) for s in range(600)}
    has = {s: s < 12 or 15 <= s < 43 for s in range(600)}
    assert sum(has.values()) == 40 and sum(has[s] for s in range(15)) == 12 and sum(has[s] for s in range(1, 600, 2)) == 20
    assert linked_codes(codes, has) == {"D"}
    assert linked_codes(codes, has, min_subjects=1) == {"D", "R"}


def test_t5_spends_its_budget_on_flags_the_prompt_does_not_explain_first(outcome) -> None:  # noqa: ANN001
    from memaudit.audits import t5_perturbation as t5
    from memaudit.audits.clinical_links import linked_codes
    from memaudit.audits.t2_sensitive import FlaggedCase

    ctx = outcome.context
    group = max(ctx.config["sensitive_groups"], key=lambda g: sum(ctx.labels(g).values()))
    linked = linked_codes({s: t.codes for s, t in ctx.timelines.items()}, ctx.labels(group))
    assert ctx.linked_codes(group) == linked
    prompts = ctx.prompts["codes:10"]
    explained = next(s for s in ctx.members if s in prompts and set(prompts[s].codes) & linked)
    unexplained = next(s for s in ctx.members if s in prompts and not set(prompts[s].codes) & linked)
    # the explained flag is the more extreme one, and still comes second
    flagged = [FlaggedCase(explained, group, "codes:10", 1.0), FlaggedCase(unexplained, group, "codes:10", 0.4)]
    chosen, nulls = t5.cases(ctx, flagged, outcome.results["T2"].per_subject)
    assert [c.subject_id for c in chosen] == [unexplained, explained]
    assert all(ctx.arm(n.subject_id) == "non_member" for n in nulls[(group, "codes:10")])


def test_t5_drop_test_uses_binomial_noise_and_the_null_offset() -> None:
    from memaudit.audits.t5_perturbation import drop_p

    sharp = {"original": 0.9, **{f"p{i}": 0.2 for i in range(9)}}
    assert drop_p(sharp, 20, 20, 0.0) < 1e-6
    assert drop_p(sharp, 20, 20, 0.7) == pytest.approx(0.5, abs=0.01)  # no more than non-members drop
    noisy = {"original": 0.45, **{f"p{i}": 0.25 for i in range(9)}}  # a 0.2 drop is within noise at 20 samples
    assert 0.01 < drop_p(noisy, 20, 20, 0.0) < 0.1
    # ... and clear once the original prompt, the reference of every comparison, has 100 samples
    assert drop_p(noisy, 100, 20, 0.0) < 0.001
    assert drop_p({"original": 0.5}, 20, 20, 0.0) == 1.0
