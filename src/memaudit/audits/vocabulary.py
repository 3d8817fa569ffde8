"""Vocabulary artifact check: preprocessing that fits value bins on the training split can put one
patient's exact measurement into a token (`HEIGHT//value_[175.27,inf)`). Tokens that carry a
numeric value and occur in fewer than k member subjects are reported, with the number masked."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# a decimal not glued to a code's letters (E11.9 is an ICD code, not a value), or a bin bound
NUMBER = re.compile(r"(?<![A-Za-z0-9.])-?\d+\.\d+|(?<=[\[(,])-?\d+(?=[\]),])")


def carries_value(token: str) -> bool:
    """A decimal number, or a number inside a bin bracket such as [175,inf)."""
    return bool(NUMBER.search(token))


def mask(token: str) -> str:
    return NUMBER.sub("#", token)


def numeric_artifacts(
    vocab_tokens: Iterable[str], member_subject_counts: Mapping[str, int], min_subjects: int
) -> dict:
    tokens = sorted(t for t in vocab_tokens if carries_value(t))
    rare = [t for t in tokens if member_subject_counts.get(t, 0) < min_subjects]
    return {
        "status": "fail" if rare else "pass",
        "min_subjects": min_subjects,
        "n_value_tokens": len(tokens),
        "n_rare_value_tokens": len(rare),
        "rare_value_tokens_masked": sorted({mask(t) for t in rare}),
        "summary": (
            f"{len(rare)} of {len(tokens)} vocabulary tokens that carry a numeric value occur in fewer than "
            f"{min_subjects} member subjects: the model's vocabulary itself can disclose their values."
            if rare
            else f"No vocabulary token carries a numeric value seen in fewer than {min_subjects} "
            f"member subjects ({len(tokens)} value tokens checked)."
        ),
    }
