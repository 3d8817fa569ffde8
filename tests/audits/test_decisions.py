"""The audits' decisions on planted answers (memaudit.testing: a real MEDS cohort, the audit's own
preparation, a scripted model): no training, so each decision is checked where it is made."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memaudit.audits.registry import registered
from memaudit.testing import ScriptedAdapter, check_adapter, check_audit, make_context, run_scripted

HIV = "DIAGNOSIS//ICD10CM//B20"
LABS = [
    f"LAB//{name}//{level}"
    for name in ("SODIUM", "POTASSIUM", "GLUCOSE", "CREATININE")
    for level in ("LOW", "NORMAL", "HIGH")
]
MEMBERS, NON_MEMBERS = list(range(1, 61)), list(range(101, 161))


def _timelines() -> dict[int, list[str]]:
    """120 patients, 30 codes each; half of each arm has HIV due at the 15th clinical code (after
    the codes:10 prompt, within the horizon)."""
    rng = np.random.default_rng(0)
    out = {}
    for s in MEMBERS + NON_MEMBERS:
        codes = ["SEX//" + "FM"[s % 2], "AGE//50-54", *rng.choice(LABS, 30)]
        if s % 2 == 0:
            codes[16] = HIV
        out[s] = [str(c) for c in codes]
    return out


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory):
    return make_context(
        tmp_path_factory.mktemp("meds"),
        _timelines(),
        MEMBERS,
        {"tiers": ["codes:10"], "statistics": {"n_bootstrap": 200, "stability_resamples": 0}},
    )


def _has_hiv(s: int) -> bool:
    return s % 2 == 0


def test_the_scripted_model_is_a_conforming_adapter(ctx) -> None:
    assert len(check_adapter(ScriptedAdapter(ctx))) == 5  # every check, sequential rounds included


def test_t2_fails_when_members_regenerate_their_removed_condition_and_non_members_do_not(ctx) -> None:
    leaks = {s: {HIV: 0.9 if s in MEMBERS and _has_hiv(s) else 0.05} for s in MEMBERS + NON_MEMBERS}
    t2 = run_scripted(ctx, ScriptedAdapter(ctx, leaks=leaks), ["T2"])["T2"]
    entry = t2.metrics["by_group"]["hiv"]["by_tier"]["codes:10"]
    assert entry["member"]["auroc"] > 0.95 and entry["non_member"]["auroc"] < 0.7
    assert entry["fails"] and t2.status == "fail"


def test_t2_passes_when_both_arms_regenerate_it_alike(ctx) -> None:
    leaks = {s: {HIV: 0.6 if _has_hiv(s) else 0.05} for s in MEMBERS + NON_MEMBERS}
    t2 = run_scripted(ctx, ScriptedAdapter(ctx, leaks=leaks), ["T2"])["T2"]
    entry = t2.metrics["by_group"]["hiv"]["by_tier"]["codes:10"]
    assert not entry["significant"] and t2.status == "pass"


def test_t4_fails_when_members_timelines_are_far_likelier_and_passes_when_alike(ctx) -> None:
    noise = np.random.default_rng(1).normal(0, 0.3, 200)
    alike = {s: 3.0 + noise[i] for i, s in enumerate(MEMBERS + NON_MEMBERS)}
    planted = {s: v - (1.0 if s in MEMBERS else 0.0) for s, v in alike.items()}
    t4 = run_scripted(ctx, ScriptedAdapter(ctx, losses=planted), ["T4"])["T4"]
    assert t4.status == "fail" and t4.metrics["decision"]["auroc"] > 0.9
    t4 = run_scripted(ctx, ScriptedAdapter(ctx, losses=alike), ["T4"])["T4"]
    assert t4.status == "pass"


def test_a_test_without_the_capability_it_needs_is_skipped_with_the_reason(ctx) -> None:
    class ScoresOnly(ScriptedAdapter):
        def capabilities(self) -> frozenset[str]:
            return frozenset({"score"})

    results = run_scripted(ctx, ScoresOnly(ctx), ["T1", "T4"])
    assert results["T1"].status == "skipped" and "`generate`" in results["T1"].summary
    assert results["T4"].status in {"pass", "warn", "fail"}


def test_the_context_is_prepared_from_real_meds_by_the_audits_own_code(ctx, tmp_path: Path) -> None:
    assert sorted(ctx.members) == MEMBERS and sorted(ctx.non_members) == NON_MEMBERS
    prompt = ctx.prompts["codes:10"][2]
    assert HIV not in prompt.codes and HIV in prompt.continuation


def test_t1_fails_when_members_samples_reproduce_their_own_next_codes(ctx) -> None:
    """Members' samples carry their true next codes (non-members' do not): a residual risk of
    recovery far above `risk.t1_residual_fail`, significant family-wise; the same for everyone
    passes."""
    length = ctx.config.t1.continuation_codes

    def own_codes(s: int, rate: float) -> dict[str, float]:
        return dict.fromkeys(ctx.prompts["codes:10"][s].continuation[:length], rate)

    members_only = {s: own_codes(s, 0.95) for s in MEMBERS}
    t1 = run_scripted(ctx, ScriptedAdapter(ctx, leaks=members_only), ["T1"])["T1"]
    entry = t1.metrics["by_tier"]["codes:10"]
    assert entry["residual_risk_recovery"] > 0.5 and entry["recovery"]["holm_p"] < 0.001
    assert t1.status == "fail"
    everyone = {s: own_codes(s, 0.95) for s in MEMBERS + NON_MEMBERS}
    t1 = run_scripted(ctx, ScriptedAdapter(ctx, leaks=everyone), ["T1"])["T1"]
    assert t1.status == "pass" and not t1.metrics["by_tier"]["codes:10"]["significant"]


def test_t1_judge_fails_only_on_family_wise_evidence() -> None:
    """The judgement alone, on measured numbers: a fail-sized residual risk whose Holm p misses
    T1's share of the gate warns; the same with a smaller p fails."""
    from memaudit.audits.t1.trajectory import judge
    from memaudit.config import load_config

    risk = load_config().risk

    def tier(p: float) -> dict:
        return {"recovery": {"p_value_greater": p, "difference": 0.3}, "residual_risk_recovery": 0.4}

    status, worst = judge({"codes:10": tier(0.004), "codes:20": tier(0.5)}, 0.95, risk)
    assert status == "warn" and worst == 0.4  # Holm 0.008 > 0.0033, BH 0.008 < 0.05
    status, _ = judge({"codes:10": tier(0.0001), "codes:20": tier(0.5)}, 0.95, risk)
    assert status == "fail"


def test_t4_judge_needs_the_interval_above_one_half() -> None:
    from memaudit.audits.t4.membership import judge
    from memaudit.config import load_config

    risk = load_config().risk  # warn at 0.6, fail at 0.75
    none = {"tpr_at_fpr": [{"fpr": 0.1, "status": "ok", "tpr": 0.12, "tpr_ci95": [0.08, 0.16]}]}
    assert judge({"auroc": 0.8, "auroc_ci95": [0.49, 0.95], **none}, risk) == "pass"
    assert judge({"auroc": 0.8, "auroc_ci95": [0.7, 0.9], **none}, risk) == "fail"
    assert judge({"auroc": 0.65, "auroc_ci95": [0.55, 0.75], **none}, risk) == "warn"
    assert judge({"auroc": 0.55, "auroc_ci95": [0.51, 0.6], **none}, risk) == "pass"
    # a few members identified at a low FPR beyond chance warn, whatever the AUROC
    low = {"fpr": 0.01, "status": "ok", "tpr": 0.05, "tpr_ci95": [0.02, 0.09]}
    assert judge({"auroc": 0.52, "auroc_ci95": [0.48, 0.56], "tpr_at_fpr": [low]}, risk) == "warn"
    chance = {**low, "tpr": 0.012, "tpr_ci95": [0.004, 0.03]}
    assert judge({"auroc": 0.52, "auroc_ci95": [0.48, 0.56], "tpr_at_fpr": [chance]}, risk) == "pass"


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory):
    """Two tiers (one with a prompt shared by everyone), a planted leak and planted losses."""
    ctx = make_context(
        tmp_path_factory.mktemp("meds"),
        _timelines(),
        MEMBERS,
        {"tiers": ["none", "codes:10"], "statistics": {"n_bootstrap": 100, "stability_resamples": 0}},
    )
    leaks = {s: {HIV: 0.7 if _has_hiv(s) else 0.1} for s in MEMBERS + NON_MEMBERS}
    return ctx, ScriptedAdapter(ctx, leaks=leaks, losses=dict.fromkeys(MEMBERS, 2.5))


@pytest.mark.parametrize("name", [a.name for a in registered()])
def test_every_registered_audit_keeps_the_contract(scripted, name: str) -> None:
    """memaudit.testing.check_audit on each registered audit: the built-in six and any an
    installed package adds."""
    ctx, adapter = scripted
    assert len(check_audit(name, ctx, adapter)) == 4


def test_t3_folds_keep_copies_of_one_record_together() -> None:
    """Labels unrelated to the embeddings, each record copied 5 times: folds that split the copies
    let the probe score prompts it was trained on (AUROC far above 0.5); grouped folds do not."""
    from memaudit.audits.stats import auroc
    from memaudit.audits.t3.probe import cross_fitted_scores

    rng = np.random.default_rng(0)
    records, copies = 60, 5
    x = np.repeat(rng.normal(size=(records, 64)), copies, axis=0)  # wide enough to fit any labels
    y = np.repeat(rng.random(records) < 0.5, copies)
    groups = np.repeat(np.arange(records), copies)
    split = cross_fitted_scores(x, y, 5, 0)
    grouped = cross_fitted_scores(x, y, 5, 0, groups)
    assert auroc(split[y], split[~y]) > 0.8
    assert auroc(grouped[y], grouped[~y]) < 0.7
