"""`memaudit validate --repeat`: independent trainings per scenario, resumable, summarised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memaudit.groundtruth.repeats import Scenario, repeat
from memaudit.groundtruth.repeats_summary import summarise

TINY_AUDIT = {
    "subjects_per_arm": None,
    "tiers": ["none", "static", "codes:10"],
    "generation": {"n_samples": 6, "max_new_codes": 32},
    "statistics": {"n_bootstrap": 100, "stability_resamples": 0},
    "t5": {"max_cases": 8, "n_null": 19, "n_samples": 8, "n_samples_original": 16},
}
TINY = {
    "tiny": Scenario(
        "a small memorizing cohort",
        {"n_subjects": 160, "canary_repetitions": (20,), "canaries_per_repetition": 8},
        TINY_AUDIT,
        epochs=3,
    )
}


def _run(index: int, t5_status: str, risk: str, cases: list[dict]) -> dict:
    return {
        "seed": index,
        "risk_level": risk,
        "seconds": {"audit": 10.0},
        "t5": {
            "status": t5_status,
            "cases": cases,
            "n_null": 50,
            "p_value_from": "student_t",
            "tail_check": {"normal": True, "student_t": True},
            "tail_df": 30.0,
            "alpha": 0.05,
            "min_effect": 0.2,
            "null_z_quantile": 2.0,
        },
        "placebo": {"risk_level": "low", "t5_status": "pass", "t5_counts": {"memorized": 0}},
    }


def _case(truth: str, verdict: str, p: float) -> dict:
    return {
        "truth": truth,
        "verdict": verdict,
        "p_value_normal": p,
        "p_value_student_t": p,
        "p_value_empirical": 0.01,
        "z": 4.0,
        "effect": 0.5,
    }


def test_the_summary_counts_runs_not_cases() -> None:
    runs = [
        _run(0, "fail", "high", [_case("pattern", "memorized", 1e-4), _case("pattern", "memorized", 1e-4)]),
        _run(1, "pass", "medium", [_case("pattern", "generalized", 0.5)]),
        _run(2, "fail", "high", [_case("canary_20_plus", "memorized", 1e-5)]),
        _run(3, "pass", "medium", [_case("canary_20_plus", "inconclusive", 0.2)]),
        _run(
            4,
            "fail",
            "high",
            [_case("pattern_x50", "memorized", 1e-5), _case("random_x1", "memorized", 1e-5)],
        ),
    ]
    s = summarise(runs)
    assert s["n_runs"] == 5 and s["t5_fail_share"] == 0.6 and s["risk_levels"] == {"high": 3, "medium": 2}
    lo, hi = s["t5_fail_share_ci95"]
    assert lo < 0.6 < hi
    assert s["t5_memorized_per_run"] == [2, 0, 1, 0, 2]
    # a pattern condition of a record seen 50 times is that record memorized; a ×1 canary was seen once
    assert s["t5_false_memorized_per_run"] == [2, 0, 0, 0, 1]
    assert s["t5_memorized_of_repeated_records_per_run"] == [0, 0, 1, 0, 1]
    assert s["canary_recall"]["k"] == 1 and s["canary_recall"]["n"] == 2
    # the rules compared on the same cases: calls on anything but ×20+ random plants, by run
    assert s["decision_rules_compared"]["student_t_holm"]["runs_with_a_false_call"] == 2


def test_the_false_low_share_counts_runs_reading_low_while_a_repeated_record_is_identified() -> None:
    def leaking(index: int, risk: str, identified: int) -> dict:
        run = _run(index, "pass", risk, [])
        run["repeated_records"] = {
            "audited": 10,
            "identified_at_1pct_fpr": identified,
            "arm_outcome": "pass" if risk == "low" else "fail",
            "false_low": risk == "low" and identified > 0,
        }
        return run

    runs = [leaking(0, "low", 3), leaking(1, "high", 8), leaking(2, "low", 0), leaking(3, "medium", 1)]
    s = summarise(runs)
    assert s["false_low_share"]["k"] == 1 and s["false_low_share"]["n"] == 4
    lo, hi = s["false_low_share"]["ci95"]
    assert lo < 0.25 < hi
    assert s["runs_with_a_repeated_record_identified"]["k"] == 3
    assert "false_low_share" not in summarise([_run(0, "pass", "low", [])])  # no repeated record, no figure


@pytest.mark.slow  # trains two models per run
def test_repeats_train_independent_models_resume_and_write_repeats_json(tmp_path: Path) -> None:
    first = repeat(tmp_path, 1, ["tiny"], catalogue=TINY)
    run0 = tmp_path / "tiny" / "run_0" / "run.json"
    written = run0.stat().st_mtime_ns
    assert first["scenarios"]["tiny"]["n_runs"] == 1
    assert not (tmp_path / "tiny" / "run_0" / "model").exists()  # heavy files go once scored

    second = repeat(tmp_path, 2, ["tiny"], catalogue=TINY, placebo_draws=2)
    assert run0.stat().st_mtime_ns == written  # the finished run was reused, not redone
    s = second["scenarios"]["tiny"]
    # run 1 has two placebo audits of its model; run 0's model is gone, so it keeps its one
    assert (s["placebo"]["audits"], s["placebo"]["trainings"]) == (3, 2)
    assert (tmp_path / "tiny" / "run_1" / "audit" / "placebo_1" / "report.json").exists()
    assert s["n_runs"] == 2 and s["seeds"] == [0, 1]
    assert sum(s["risk_levels"].values()) == 2
    assert 0 <= s["t5_fail_share_ci95"][0] <= s["t5_fail_share_ci95"][1] <= 1
    runs = [json.loads((tmp_path / "tiny" / f"run_{i}" / "run.json").read_text()) for i in (0, 1)]
    # a new data seed and training seed per run: the two cohorts differ
    assert runs[0]["power_by_repeats"] != runs[1]["power_by_repeats"] or runs[0]["t5"] != runs[1]["t5"]
    assert json.loads((tmp_path / "repeats.json").read_text()) == second
    assert all(r["placebo"]["t5_counts"].get("memorized", 0) == 0 for r in runs)
    # 8 records written 20 times: each run says what they truly leak, and what T4's arm made of them
    assert all(r["repeated_records"]["audited"] == 8 for r in runs)
    assert all(r["repeated_records"]["arm_records"] == 8 for r in runs)
    assert "false_low_share" in s


def test_an_unknown_scenario_is_refused_in_one_line(tmp_path: Path) -> None:
    from memaudit.errors import UserInputError

    with pytest.raises(UserInputError, match="seen_once"):
        repeat(tmp_path, 1, ["nothing"])


def test_each_placebo_draw_cuts_the_unseen_subjects_in_halves_another_way(small_cohort: Path) -> None:
    import meds
    import polars as pl

    from memaudit.cohort.meds_reader import MedsDataset
    from memaudit.groundtruth.placebo import POSING_MEMBERS, PlaceboDataset

    unseen = MedsDataset(small_cohort).subject_splits().filter(pl.col("split") == meds.held_out_split)
    posing = []
    for draw in (0, 1, 2):
        splits = PlaceboDataset(small_cohort, meds.held_out_split, seed=0, draw=draw).subject_splits()
        assert sorted(splits["subject_id"]) == sorted(unseen["subject_id"])
        posing.append(set(splits.filter(pl.col("split") == POSING_MEMBERS)["subject_id"]))
        assert len(posing[-1]) == unseen.height // 2
    assert posing[0] != posing[1] and posing[1] != posing[2] and posing[0] != posing[2]


def test_placebo_false_fails_are_counted_per_audit_and_per_training() -> None:
    def placebo(level: str, judged: int, failing: str = "T5") -> dict:
        statuses = {"T4": "pass", "T5": "pass", failing: "fail" if level == "high" else "pass"}
        counts = {"memorized": int(level == "high" and failing == "T5")}
        return {"risk_level": level, "t5_cases_judged": judged, "t5_counts": counts, "statuses": statuses}

    runs = [_run(i, "pass", "low", []) for i in range(3)]
    runs[0]["placebo_draws"] = [placebo("low", 30), placebo("high", 40), placebo("high", 25, "T4")]
    runs[1]["placebo_draws"] = [placebo("medium", 0), placebo("low", 0)]
    # runs[2] was scored before draws were recorded: its one placebo audit counts
    p = summarise(runs)["placebo"]
    assert p["audits"] == 6 and p["trainings"] == 3
    assert p["false_fail"]["k"] == 2 and p["false_fails_per_training"] == [2, 0, 0]
    assert p["trainings_with_a_false_fail"]["k"] == 1
    assert p["false_fail_where_t5_judged_cases"]["n"] == 3  # the third run's placebo has no count
    assert p["t5_memorized_calls_per_audit"] == [0, 1, 0, 0, 0, 0]
    assert p["audits_with_a_t5_memorized_call"]["k"] == 1 and p["audits_with_a_t5_memorized_call"]["n"] == 6
    # audited before T5's memorized calls warned: only the audit failed by T4 stays a false FAIL
    assert p["false_fail_with_t5_warning"]["k"] == 1
    assert p["trainings_with_a_false_fail_with_t5_warning"]["k"] == 1
