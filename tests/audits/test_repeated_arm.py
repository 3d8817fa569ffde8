"""T4's repeated-record arm on numbers: the exact null, the decision, the bands."""

from __future__ import annotations

import numpy as np
import pytest

from memaudit.audits.t4.repeated_arm import band_of, exceedance_p, judge_arm, operating_points, repeated_arm


def test_the_exceedance_p_value_is_exact_under_exchangeable_scores() -> None:
    """Simulated under the null (arm and non-members drawn alike), P(p <= a) <= a at every a, and
    close to it where the count's distribution allows."""
    rng = np.random.default_rng(0)
    n_arm, n_non, allowed = 12, 400, 4  # a 1% FPR threshold
    ps = []
    for _ in range(4000):
        arm, non = rng.normal(size=n_arm), rng.normal(size=n_non)
        threshold = np.sort(non)[::-1][allowed]
        ps.append(exceedance_p(int(np.sum(arm > threshold)), n_arm, allowed, n_non))
    ps = np.array(ps)
    for a in (0.01, 0.05, 0.2):
        assert np.mean(ps <= a) <= a + 0.01
    assert np.mean(ps <= 0.2) > 0.05  # not a test that never rejects
    assert exceedance_p(0, n_arm, allowed, n_non) == 1.0


def test_records_the_model_leaks_fail_and_records_like_non_members_pass() -> None:
    rng = np.random.default_rng(1)
    non = {i: float(v) for i, v in enumerate(rng.normal(size=1000))}
    leaked = {1000 + i: 4.0 + 0.1 * i for i in range(8)}  # far above every non-member
    like = {2000 + i: float(v) for i, v in enumerate(rng.normal(size=8))}
    times = {s: 20 for s in leaked} | {s: 3 for s in like}
    scores = {"loss": non | leaked | like}
    out = repeated_arm(scores, {s: times[s] for s in leaked}, {}, list(non), [0.1, 0.01], 0.95, 0.0025)
    assert out["outcome"] == "fail" and out["decision"]["point"]["identified"] == 8
    assert out["line"].startswith("T4 repeated records: 8 of 8 identified at 0.01 FPR")
    assert [b["n"] for b in out["bands"]] == [0, 0, 8]
    calm = repeated_arm(scores, {s: times[s] for s in like}, {}, list(non), [0.1, 0.01], 0.95, 0.0025)
    assert calm["outcome"] == "pass"
    assert [b["n"] for b in calm["bands"]] == [8, 0, 0]


def test_an_arm_says_what_it_could_not_judge() -> None:
    scores = {"loss": {0: 0.1, 1: 0.2, 2: 5.0}}
    assert repeated_arm(scores, {}, {}, [0, 1], [0.1], 0.95, 0.01)["status"] == "none found"
    few = repeated_arm(scores, {2: 5}, {}, [0, 1], [0.1], 0.95, 0.01)
    assert few["status"] == "insufficient" and few["outcome"] == "pass" and "10/FPR" in few["reason"]


def test_holm_pays_for_judging_several_scores() -> None:
    """The same count is weaker evidence when it is the best of several scores."""
    point = operating_points(np.full(5, 3.0), np.linspace(-2, 2, 1000), [0.01], 0.95)
    alone = judge_arm({"loss": point}, 0.05, 0.95)["point"]["holm_p"]
    copies = {
        name: operating_points(np.full(5, 3.0), np.linspace(-2, 2, 1000), [0.01], 0.95) for name in "abcd"
    }
    assert judge_arm(copies, 0.05, 0.95)["point"]["holm_p"] == pytest.approx(min(1.0, 4 * alone))


def test_bands() -> None:
    assert [band_of(t) for t in (2, 4, 5, 19, 20, 50)] == ["2-4x", "2-4x", "5-19x", "5-19x", "20x+", "20x+"]


def test_repeated_records_the_audit_could_not_judge_make_it_incomplete_not_low() -> None:
    """Fewer non-members than any operating point needs: T4 passes on its AUROC, but the records
    most at risk were not judged, so the level is incomplete and the report says why."""
    from memaudit.audits.result import PASS, TestResult
    from memaudit.audits.runner import AuditOutcome
    from memaudit.report.json_report import level_of, not_tested

    arm = repeated_arm({"loss": {0: 0.1, 1: 0.2, 2: 5.0}}, {2: 20}, {}, [0, 1], [0.1], 0.95, 0.01)
    untested = [f"T4 repeated-record arm not tested: 1 records, {arm['reason']}"]
    t4 = TestResult(
        "T4", "Membership inference", PASS, "passes.", {"repeated_records": arm, "untested": untested}
    )
    outcome = AuditOutcome(context=None, results={"T4": t4})
    assert level_of(outcome) == ("incomplete", False)
    assert not_tested(outcome) == untested
    judged = TestResult("T4", "Membership inference", PASS, "passes.", {"repeated_records": arm})
    assert level_of(AuditOutcome(context=None, results={"T4": judged})) == ("low", True)
