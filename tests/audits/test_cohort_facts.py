"""Who is elderly, and which identifiers T5 could perturb, are facts of the cohort: a model stream
that drops static and birth rows (as many stacks do) must not empty T6's elderly subgroup, and T5
must say why its age and sex families cannot run."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import meds

from memaudit.audits.t5.perturbation import available_families, why_families_cannot_run
from memaudit.audits.t6.subgroups import subgroups
from memaudit.testing import make_context

CODES = ["ICD10CM//I10", "ICD10CM//E119", "ICD10CM//J45", "ICD10CM//K219"]


def _cohort(tmp_path: Path, drop_demographics: bool):
    timelines = {s: [CODES[(s + i) % 4] for i in range(14)] for s in range(1, 21)}
    births = {s: datetime(1920 if s % 2 else 1990, 6, 1) for s in timelines}
    static = {s: ["GENDER//F" if s % 3 else "GENDER//M"] for s in timelines}
    hooks = tmp_path / "stack_hooks.py"
    hooks.write_text(
        f"def drop_birth(code, value):\n    return None if code == {meds.birth_code!r} else code\n"
    )
    cohort = {"static_rows": "drop", "event_to_code": f"{hooks}:drop_birth"} if drop_demographics else {}
    return make_context(
        tmp_path / "cohort",
        timelines,
        members=range(1, 11),
        overrides={"cohort": cohort, "tiers": ["none", "static", "codes:2"]},
        births=births,
        static_rows=static,
    )


def test_elderly_come_from_the_birth_row_the_stream_drops(tmp_path: Path) -> None:
    ctx = _cohort(tmp_path, drop_demographics=True)
    streams = [c for t in ctx.timelines.values() for c in t.codes]
    assert meds.birth_code not in streams and not any(c.startswith("GENDER") for c in streams)
    groups, why = subgroups(ctx)
    born_1920 = {s for s in ctx.timelines if s % 2}
    assert (
        groups["elderly"] == born_1920
    )  # 99 years at 2020-01-01 (t6.elderly_min_age 85); the 1990 births are 29
    assert "elderly" not in why


def test_t5_says_why_age_and_sex_cannot_be_perturbed(tmp_path: Path) -> None:
    ctx = _cohort(tmp_path, drop_demographics=True)
    counts = available_families(ctx)
    assert counts["age"] == 0 and counts["sex"] == 0 and counts["code_swap"] > 0
    why = why_families_cannot_run(ctx, counts)
    assert set(why) == {"age", "sex"}
    assert "birth rows" in why["age"] and "static rows" in why["sex"]


def test_a_stream_that_keeps_sex_has_nothing_to_explain_for_it(tmp_path: Path) -> None:
    ctx = _cohort(tmp_path, drop_demographics=False)
    counts = available_families(ctx)
    assert counts["sex"] > 0
    assert "sex" not in why_families_cannot_run(ctx, counts)
