"""Code conventions and sensitive groups on the code formats real cohorts use."""

from __future__ import annotations

from pathlib import Path

import pytest

from memaudit.cohort.conventions import Diagnosis, gap_days_of_recipe, infer_conventions
from memaudit.cohort.sensitive import GroupMatcher, build_group, build_groups
from memaudit.config import AuditConfig, load_config
from memaudit.config.sections import Conventions, SensitiveGroup, TimeGapRecipe

DEFAULT = AuditConfig().sensitive_groups


@pytest.mark.parametrize(
    "code, expected",
    [
        ("DIAGNOSIS//ICD//10//F1020", Diagnosis(10, "F1020")),  # MIMIC-IV MEDS: version in the code, undotted
        ("DIAGNOSIS//ICD//9//30500", Diagnosis(9, "30500")),
        ("DIAGNOSIS//ICD10CM//F10.20", Diagnosis(10, "F1020")),  # memaudit's own, dotted
        ("DIAGNOSIS//ICD9CM//305.00", Diagnosis(9, "30500")),
        ("ICD9CM/042", Diagnosis(9, "042")),  # vocabulary-qualified (OMOP / parent codes)
        ("ICD10CM//Z21", Diagnosis(10, "Z21")),
        ("PROCEDURE//ICD//9//3051", None),  # an ICD-9 procedure, not diagnosis 305.1
        ("PROCEDURE//ICD//10//0DTJ4ZZ", None),
        ("LAB//50912//mg/dL", None),
        ("F1020", None),  # a bare token needs a configured format
    ],
)
def test_diagnoses_are_read_in_every_format(code: str, expected: Diagnosis | None) -> None:
    assert infer_conventions(Conventions(), []).diagnosis(code) == expected


def test_bare_tokens_and_a_version_column_are_configured() -> None:
    bare = Conventions.parse(
        {"diagnosis_formats": [{"pattern": r"^(?P<code>[A-Z][0-9][0-9A-Z]{1,5})$", "version": 10}]},
        "conventions",
    )
    assert infer_conventions(bare, []).diagnosis("F1020") == Diagnosis(10, "F1020")
    by_column = Conventions.parse(
        {"diagnosis_formats": [{"pattern": r"^DX//(?P<code>[0-9A-Z.]+)$"}]}, "conventions"
    )
    conventions = infer_conventions(by_column, [], versions={"DX//30500": 9, "DX//F1020": 10})
    assert conventions.diagnosis("DX//30500") == Diagnosis(9, "30500")
    assert conventions.diagnosis("DX//F1020") == Diagnosis(10, "F1020")
    assert conventions.diagnosis("DX//X99") is None  # no version: not read as a diagnosis


def test_sex_age_and_time_are_inferred_from_the_stream() -> None:
    codes = ["GENDER//F", "GENDER//M", "AGE_BAND//60-69", "AGE_BAND//70-79", "TIME//1-4w", "LAB//1"]
    c = infer_conventions(Conventions(), codes)
    assert c.sex == ("GENDER//F", "GENDER//M") and c.flip_sex("GENDER//M") == "GENDER//F"
    assert (c.age.prefix, c.age.width) == ("AGE_BAND//", 10)
    assert c.shift_age("AGE_BAND//60-69", -2) == "AGE_BAND//40-49" and c.shift_age("LAB//1", 1) is None
    assert (
        c.days_of_gap("TIME//1-4w") == 17.5
        and c.is_demographic("GENDER//F")
        and not c.is_demographic("LAB//1")
    )
    assert c.sources["sex_codes"] == "inferred"
    none = infer_conventions(Conventions(), ["LAB//1", "MEDS_BIRTH"])
    assert none.sex is None and none.age is None and none.is_demographic("MEDS_BIRTH")
    assert none.sources["time_gaps"].startswith("none")
    configured = infer_conventions(Conventions(sex_codes=("S//2", "S//1"), age_prefix="A//"), ["A//5-9"])
    assert configured.flip_sex("S//1") == "S//2" and configured.age.width == 5


def test_derived_gap_codes_read_as_the_middle_of_their_bin() -> None:
    recipe = TimeGapRecipe(bins=(("G//<1w", 7.0), ("G//1-4w", 28.0), ("G//>4w", 1e9)), min_days=1.0)
    assert gap_days_of_recipe(recipe) == {"G//<1w": 4.0, "G//1-4w": 17.5, "G//>4w": 42.0}


@pytest.mark.parametrize(
    "code, group",
    [
        ("DIAGNOSIS//ICD//10//B20", "hiv"),
        ("DIAGNOSIS//ICD//9//042", "hiv"),
        ("DIAGNOSIS//ICD//9//V08", "hiv"),
        ("DIAGNOSIS//ICD//10//Z21", "hiv"),
        ("DIAGNOSIS//ICD//10//F1120", "substance_use"),
        ("DIAGNOSIS//ICD//9//2910", "substance_use"),
        ("DIAGNOSIS//ICD//9//30390", "substance_use"),
        ("DIAGNOSIS//ICD10CM//F32.9", "mental_health"),
        ("DIAGNOSIS//ICD//9//311", "mental_health"),
        ("DIAGNOSIS//ICD//9//29620", "mental_health"),
        ("DIAGNOSIS//ICD//9//30981", "mental_health"),
        ("DIAGNOSIS//ICD//10//A5400", "sti"),
        ("DIAGNOSIS//ICD//9//0980", "sti"),
        ("ICD9CM/097.9", "sti"),
    ],
)
def test_default_groups_cover_icd9_and_icd10_in_any_format(code: str, group: str) -> None:
    matcher = GroupMatcher(build_groups(DEFAULT))
    assert matcher.groups_of(code) == {group}


@pytest.mark.parametrize(
    "code",
    [
        "DIAGNOSIS//ICD//9//2900",  # dementia (F01-F03 in ICD-10): not in mental_health F20-F48
        "DIAGNOSIS//ICD//9//3100",  # organic brain syndrome (F07): outside F20-F48
        "DIAGNOSIS//ICD//10//F60",  # personality disorders: outside F20-F48
        "PROCEDURE//ICD//9//3051",  # a procedure whose digits look like 305.1
        "DIAGNOSIS//ICD//10//B19",
    ],
)
def test_default_groups_do_not_match_neighbours(code: str) -> None:
    assert not GroupMatcher(build_groups(DEFAULT)).is_sensitive(code)


def test_groups_from_code_lists_files_patterns_and_descriptions(tmp_path: Path) -> None:
    (tmp_path / "hiv.txt").write_text("# antiretrovirals\nMEDICATION//START//Biktarvy\n")
    spec = SensitiveGroup(
        codes=("LAB//HIV_VL",),
        code_files=(str(tmp_path / "hiv.txt"),),
        patterns=(r"^MEDICATION//.*dolutegravir",),
        descriptions=("antiretroviral",),
    )
    descriptions = {
        "MEDICATION//START//Truvada": "Emtricitabine/tenofovir, an antiretroviral",
        "LAB//1": "sodium",
    }
    group = build_group("hiv", spec, descriptions)
    conventions = infer_conventions(Conventions(), [])
    hits = [
        c
        for c in (
            "LAB//HIV_VL",
            "MEDICATION//START//Biktarvy",
            "MEDICATION//START//dolutegravir 50 mg",
            "MEDICATION//START//Truvada",
            "LAB//1",
        )
        if group.matches(c, conventions)
    ]
    assert hits == [
        "LAB//HIV_VL",
        "MEDICATION//START//Biktarvy",
        "MEDICATION//START//dolutegravir 50 mg",
        "MEDICATION//START//Truvada",
    ]


def test_group_specs_are_checked() -> None:
    from memaudit.errors import UserInputError

    for bad in ({"icd9cm": ["30"]}, {"icd9cm": ["303-3059"]}, {"icd10cm": ["F1"]}, {"label": "nothing"}):
        with pytest.raises(UserInputError):
            load_config(overrides={"sensitive_groups": {"g": bad}})
    assert load_config(overrides={"sensitive_groups": {"g": {"icd9cm": ["E850-E858", "V08"]}}})
