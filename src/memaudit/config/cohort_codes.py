"""The sections that say how the cohort's codes are read: the sensitive groups and the coding
conventions (diagnosis formats, sex, age, time gaps). Part of `AuditConfig` (config/sections.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import meds

from ..errors import UserInputError
from .params import OneOf, Section, param

ICD10_SPEC = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")
ICD9_SPEC = re.compile(r"^(?:[0-9]{3}|V[0-9]{2}|E[0-9]{3})[0-9]{0,2}$")


def _check_icd_specs(
    specs: tuple[str, ...], pattern: re.Pattern, system: str, example: str, where: str
) -> None:
    """ICD categories ("F10", "305", "V08") or ranges of them of equal length ("F10-F19"); dots allowed."""
    for spec in specs:
        parts = [p.replace(".", "").upper() for p in spec.split("-")]
        if len(parts) > 2 or not all(pattern.match(p) for p in parts) or len({len(p) for p in parts}) > 1:
            raise UserInputError(
                f"{system} codes or ranges of equal length like {example}",
                f"{spec!r} in group {where}",
                f"write {system} categories such as {example}",
            )


@dataclass(frozen=True)
class SensitiveGroup(Section):
    label: str = param("", "the group's name in reports (default: its key)")
    icd10cm: tuple[str, ...] = param([], "ICD-10-CM codes or ranges of them, e.g. F10-F19, Z21, F10.2")
    icd9cm: tuple[str, ...] = param([], "ICD-9-CM codes or ranges of them, e.g. 303-305, 042, V08")
    codes: tuple[str, ...] = param([], "codes of the cohort's stream, matched exactly")
    code_files: tuple[str, ...] = param(
        [], "files with one code per line (or a `code` column of a .csv/.parquet)"
    )
    patterns: tuple[str, ...] = param([], "regular expressions matched against the whole code")
    descriptions: tuple[str, ...] = param(
        [], "regular expressions (case-insensitive) matched against metadata/codes.parquet descriptions"
    )

    def cross_check(self, where: str) -> None:
        _check_icd_specs(self.icd10cm, ICD10_SPEC, "ICD-10-CM", "'F10-F19'", where)
        _check_icd_specs(self.icd9cm, ICD9_SPEC, "ICD-9-CM", "'303-305'", where)
        for p in (*self.patterns, *self.descriptions):
            try:
                re.compile(p)
            except re.error as e:
                raise UserInputError("valid regular expressions", f"{p!r} ({e})", "fix the pattern") from None
        if not (
            self.icd10cm or self.icd9cm or self.codes or self.code_files or self.patterns or self.descriptions
        ):
            raise UserInputError(
                "at least one of icd10cm, icd9cm, codes, code_files, patterns, descriptions",
                f"none in group {where}",
                "say which codes belong to the group",
            )

    def to_dict(self) -> dict[str, Any]:
        """Only what was set: the report's config shows the group as the user wrote it."""
        return {k: v for k, v in super().to_dict().items() if v not in ("", [])}


DEFAULT_GROUPS = {
    "hiv": {"label": "HIV", "icd10cm": ["B20-B24", "Z21"], "icd9cm": ["042", "V08"]},
    "substance_use": {"label": "Substance use", "icd10cm": ["F10-F19"], "icd9cm": ["291-292", "303-305"]},
    # ICD-9 mental disorders (290-319) whose ICD-10 counterparts lie in F20-F48: psychoses (295-298),
    # anxiety, dissociative and somatoform disorders (300), stress reactions (306-309), depression (311)
    "mental_health": {
        "label": "Mental health",
        "icd10cm": ["F20-F48"],
        "icd9cm": ["295-298", "300", "306-309", "311"],
    },
    "sti": {"label": "Sexually transmitted infection", "icd10cm": ["A50-A64"], "icd9cm": ["090-099"]},
}


@dataclass(frozen=True)
class DiagnosisFormat(Section):
    pattern: str = param(
        "", "regular expression with a group (?P<code>...) and, unless `version` is set, (?P<version>9|10)"
    )
    version: int | None = param(None, "the ICD version of every code the pattern matches", OneOf((9, 10)))

    def cross_check(self, where: str) -> None:
        try:
            compiled = re.compile(self.pattern)
        except re.error as e:
            raise UserInputError(
                "a valid regular expression", f"{self.pattern!r} ({e})", "fix the pattern"
            ) from None
        if "code" not in compiled.groupindex:
            raise UserInputError(
                f"a group (?P<code>...) in '{where}.pattern'",
                repr(self.pattern),
                "name the code's group `code`",
            )


@dataclass(frozen=True)
class Conventions(Section):
    docs = "How the cohort's codes spell diagnoses, sex, age and time; null means inferred from the data."
    diagnosis_formats: tuple[DiagnosisFormat, ...] = param(
        [],
        "diagnosis formats tried before the built-in ones (DIAGNOSIS//ICD//10//F1020, "
        "DIAGNOSIS//ICD10CM//F10.20, ICD9CM/305.00), e.g. "
        "[{pattern: '^(?P<code>[A-Z][0-9].*)$', version: 10}] "
        "for bare ICD-10 tokens",
    )
    version_column: str | None = param(
        None,
        "column of metadata/codes.parquet giving each diagnosis code's ICD version (9/10), for formats "
        "without one",
    )
    sex_codes: tuple[str, str] | None = param(
        None, "[female code, male code], e.g. [GENDER//F, GENDER//M]; null: inferred (SEX//, GENDER//)"
    )
    age_prefix: str | None = param(None, "prefix of age-band codes (AGE//65-69); null: inferred")
    birth_code: str = param(
        meds.birth_code, "the birth row: age is derived from it when the stream has no age band"
    )
    time_gap_codes: dict[str, float] = param(
        {},
        "time-gap codes and the days each stands for, beyond those recognised (TIME//1-4w, derived gaps, "
        "TIMELINE//DELTA//<unit>//value_[a,b))",
    )
