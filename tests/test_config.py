"""The typed configuration: defaults, merging, constraints, the generated reference, and fuzzing."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memaudit.config import AuditConfig, default_mapping, load_config
from memaudit.errors import UserInputError

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 500),
    st.floats(-2, 2, allow_nan=False),
    st.text(max_size=8),
    st.lists(st.text(max_size=6), max_size=3),
)
keys = st.sampled_from(
    [
        "seed",
        "tiers",
        "generation",
        "n_samples",
        "t2",
        "threshold",
        "subjects_per_arm",
        "splits",
        "members",
        "top_p",
        "t4",
        "fprs",
        "bogus",
        "sensitive_groups",
        "icd10cm",
        "label",
    ]
)
configs = st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_config_parser_accepts_or_explains(raw: object) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.yaml"
        path.write_text(yaml.safe_dump(raw))
        try:
            config = load_config(path)
        except UserInputError as e:
            assert e.expected and e.fix
            return
        assert config.tiers and config.generation.n_samples >= 1


def test_t5_sample_counts_must_be_positive() -> None:
    for key in ("n_samples", "n_samples_original"):
        try:
            load_config(overrides={"t5": {key: 0}})
        except UserInputError as e:
            assert f"t5.{key}" in e.expected and e.fix
        else:
            raise AssertionError(f"t5.{key}: 0 was accepted")


def test_defaults_read_as_typed_attributes_and_round_trip() -> None:
    config = load_config()
    assert config.t5.n_samples == 20 and config.generation.temperature == 1.0 and config.tiers[0] == "none"
    assert isinstance(config.t1.time_scale_days, float) and isinstance(config.t4.fprs, tuple)
    assert AuditConfig.parse(config.to_dict(), "") == config
    assert default_mapping() == config.to_dict()


def test_user_values_merge_over_the_defaults_and_ints_widen_to_floats() -> None:
    config = load_config(overrides={"t1": {"time_scale_days": 30}, "generation": {"n_samples": 4}})
    assert config.t1.time_scale_days == 30.0 and isinstance(config.t1.time_scale_days, float)
    assert config.t1.extraction_k == 10 and config.generation.n_samples == 4  # the rest of each section stays
    groups = load_config(overrides={"sensitive_groups": {"hiv": {"icd10cm": ["B20"]}}}).sensitive_groups
    assert list(groups) == ["hiv"]  # a user list of groups replaces the defaults


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"generation": {"top_p": 1.5}}, "generation.top_p"),
        ({"t2": {"threshold": "high"}}, "t2.threshold"),
        ({"t4": {"fprs": [0.01, 2]}}, "t4.fprs"),
        ({"cohort": {"derive_age": {"band_years": 0}}}, "cohort.derive_age.band_years"),
        ({"t1": {"embedding": "bert"}}, "t1.embedding"),
        ({"t3": {"folds": 1}}, "t3.folds"),
        ({"sensitive_groups": {"x": {"icd10cm": ["F1"]}}}, "ICD-10-CM"),
        ({"sensitive_groups": {"x": {"patterns": ["("]}}}, "regular expressions"),
        ({"model_input": {"pad_id": True}}, "model_input.pad_id"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(overrides: dict, key: str) -> None:
    with pytest.raises(UserInputError) as e:
        load_config(overrides=overrides)
    assert key in str(e.value) and e.value.fix


def test_the_reference_page_and_the_default_yaml_come_from_the_sections() -> None:
    from memaudit.config.reference import default_yaml, markdown

    page = Path(__file__).parents[1] / "docs" / "configuration.md"
    assert page.read_text() == markdown(), (
        "regenerate: python -m memaudit.config.reference > docs/configuration.md"
    )
    assert yaml.safe_load(default_yaml()) == default_mapping()
    assert "t5.n_samples_original" in markdown() and "# T5: the reference model" in default_yaml()


def test_numbers_in_exponent_form_read_as_numbers_and_codes_stay_strings(tmp_path: Path) -> None:
    """`1e-5` is a number to a person writing YAML (and to YAML 1.2); plain YAML 1.1 reads it as
    a string, which the t4.delta constraint would then reject. Unquoted ICD-9 codes stay the
    digits written: 042 is not octal 34, 305 is the code "305"."""
    path = tmp_path / "audit.yaml"
    path.write_text(
        "t4:\n  delta: 1e-6\nt2:\n  threshold: 3E-1\n"
        "sensitive_groups:\n  hiv:\n    icd9cm: [V08, 042, 305, 303-305]\n"
    )
    config = load_config(path)
    assert config.t4.delta == pytest.approx(1e-6)
    assert config.t2.threshold == pytest.approx(0.3)
    assert yaml.safe_load(path.read_text())["t4"]["delta"] == "1e-6"  # what the plain loader made of it
    assert config.sensitive_groups["hiv"].icd9cm == ("V08", "042", "305", "303-305")


@pytest.mark.parametrize("share", [0.5, 0.8, 0.95])
def test_the_gates_alpha_is_spent_exactly_over_the_tests_that_fail_on_a_p_value(share: float) -> None:
    """Weighted Bonferroni: the family-wise levels of the tests that declare they fail on a p-value
    sum to risk.gate_alpha, the confirmatory one (T5) takes its share, and a test that does not
    fail on a p-value has no level to spend."""
    from memaudit.config.installed import gate_roles

    assert gate_roles() == {"T1": False, "T2": False, "T3": False, "T4": False, "T5": True}
    risk = load_config(overrides={"risk": {"gate_alpha": 0.1, "gate_t5_share": share}}).risk
    levels = {t: risk.fail_alpha(t) for t in gate_roles()}
    assert sum(levels.values()) == pytest.approx(0.1)
    assert levels["T5"] == pytest.approx(0.1 * share)
    assert (
        levels["T1"] == levels["T2"] == levels["T3"] == levels["T4"] == pytest.approx(0.1 * (1 - share) / 4)
    )
    with pytest.raises(ValueError):
        risk.fail_alpha("T6")
