"""Vocabulary artifact check: preprocessing that fits value bins on the training split can put one
patient's exact measurement into a token's bin edge (`HEIGHT//value_[175.27112,inf)` when only one
patient measured 175.27112). A released vocabulary then discloses that value.

A token carries a value when it ends in a bin, `[low,high)` or `(low,high]`, optionally after
`value_`. Each finite edge is compared with the values the members measured for the token's code
(the code before the bin, or the token itself when rows carry it with their value):

- an edge equal to a member's measured value, in a token fewer than `min_subjects` members hold,
  discloses that few patients' value: **fail**;
- an edge equal to a measured value in a token many members hold (a quantile of many
  measurements), or equal to no measured value (a constant of the binning, such as MEDS_EIC_AR's
  time-delta edges), is reported and passes.

Numbers in code names (`E11.9`, `Lidocaine 0.5%`, `mL/min/1.73 m2`) are not bins and are not read.

    >>> bin_edges("HEIGHT//value_[175.27112,inf)")
    ('HEIGHT', [175.27112])
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

VALUE_BIN = re.compile(
    r"^(?P<base>.*?)(?://)?(?:value_)?[\[(](?P<low>-?inf|[-+0-9.eE]+),(?P<high>-?inf|[-+0-9.eE]+)[)\]]$"
)
NUMBER = re.compile(r"(?<=[\[(,])-?[0-9.eE+-]+(?=[\]),])")
RELATIVE_TOLERANCE = 1e-6  # edges are printed float32 values: 7 significant digits


def bin_edges(token: str) -> tuple[str, list[float]] | None:
    """(the code before the bin, the bin's finite edges), or None for a token without a bin."""
    m = VALUE_BIN.match(token)
    if not m:
        return None
    try:
        edges = [float(m.group(g)) for g in ("low", "high")]
    except ValueError:
        return None
    return m.group("base"), [e for e in edges if math.isfinite(e)]


def carries_value(token: str) -> bool:
    return bin_edges(token) is not None


def mask(token: str) -> str:
    """The token with its bin edges replaced by #."""
    return NUMBER.sub("#", token)


def _measured(edge: float, values: Iterable[float]) -> bool:
    """Whether a member measured a value equal to `edge` (to float32 precision)."""
    return any(abs(v - edge) <= RELATIVE_TOLERANCE * max(1.0, abs(v)) for v in values)


def value_artifacts(
    tokens: Iterable[str],
    member_values: Mapping[str, Mapping[float, int]],
    token_subjects: Mapping[str, int],
    min_subjects: int,
) -> dict:
    """The finding. `member_values`: for each code, each measured value and how many member
    subjects measured it (the codes asked for are the tokens and their bases); `token_subjects`:
    how many members hold each token in their stream."""
    identifying, common, constant = [], [], []
    n_value_tokens = 0
    for token in sorted(tokens):
        parsed = bin_edges(token)
        if parsed is None:
            continue
        n_value_tokens += 1
        base, edges = parsed
        values: dict[float, int] = {}
        for code in (token, base):
            for v, n in member_values.get(code, {}).items():
                values[v] = values.get(v, 0) + n
        if not any(_measured(e, values) for e in edges):
            constant.append(token)
        elif token_subjects.get(token, 0) < min_subjects:
            identifying.append(token)
        else:
            common.append(token)
    masked = sorted({mask(t) for t in identifying})
    if identifying:
        summary = (
            f"{len(identifying)} of {n_value_tokens} vocabulary tokens with value bins have an edge equal to "
            f"a value a member measured and are held by fewer than {min_subjects} members: the vocabulary "
            "itself discloses those patients' values."
        )
    else:
        summary = (
            f"No value bin of the vocabulary both has an edge at a member's measured value and is held by "
            f"fewer than {min_subjects} members ({n_value_tokens} value tokens checked: {len(common)} with "
            f"edges at measured values in bins many members share, {len(constant)} with edges no member "
            "measured, constants of the binning)."
        )
    return {
        "status": "fail" if identifying else "pass",
        "min_subjects": min_subjects,
        "n_value_tokens": n_value_tokens,
        "n_identifying_edges": len(identifying),
        "n_common_value_edges": len(common),
        "n_constant_edges": len(constant),
        "identifying_tokens_masked": masked,
        "summary": summary,
    }
