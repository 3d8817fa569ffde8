"""report.json: findings as plain data, subjects only as salted hashes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from ..audits.registry import Audit, registered, versions
from ..audits.result import FAIL, NOT_TESTED, SKIPPED, WARN
from ..audits.runner import AuditOutcome
from ..config import AuditConfig
from ..config.installed import gate_roles
from ..config.sections import Risk
from ..version import __version__
from .privacy import subject_hash

SCHEMA_VERSION = "1.6.0"  # 1.6: each test's version; T4's population and repeated-record arm


def _clean(obj: Any, salt: str) -> Any:
    """JSON-safe copy: NaN → null, numpy → Python, subject ids → salted hashes."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "subject_id":
                out["subject"] = subject_hash(salt, v)
            else:
                out[str(k)] = _clean(v, salt)
        return out
    if isinstance(obj, (list, tuple)):
        return [_clean(v, salt) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def not_tested(outcome: AuditOutcome) -> list[str]:
    """What the audit was meant to test and could not: tests skipped or with nothing to work on,
    and sensitive groups it could not test."""
    out = [
        f"{n} {r.status.replace('_', ' ')}: {r.metrics.get('skip_reason', r.summary)}"
        for n, r in outcome.results.items()
        if r.status in (SKIPPED, NOT_TESTED)
    ]
    groups = outcome.coverage.get("groups", {})
    out += [
        f"group {g['label']} not tested: {g['reason']}" for g in groups.values() if g["status"] != "tested"
    ]
    # a part of a test that ran but could not judge what it was meant to (metrics["untested"])
    out += [line for r in outcome.results.values() for line in r.metrics.get("untested", [])]
    return out


def level_of(outcome: AuditOutcome) -> tuple[str, bool]:
    """The risk level and whether the audit was complete, from the statuses alone: low / medium /
    high from the tests that ran; `incomplete` instead of low when a test had nothing to work on
    or no sensitive group could be tested: an audit that could not look is no evidence of low risk.
    A medium or high finding stands whatever was not tested."""
    statuses = {r.status for r in outcome.results.values()}
    if outcome.vocabulary and outcome.vocabulary["status"] == FAIL:
        statuses.add(FAIL)
    level = "high" if FAIL in statuses else "medium" if WARN in statuses else "low"
    groups = outcome.coverage.get("groups", {})
    complete = (
        not any(r.status in (SKIPPED, NOT_TESTED) for r in outcome.results.values())
        and not any(r.metrics.get("untested") for r in outcome.results.values())
        and (not groups or any(g["status"] == "tested" for g in groups.values()))
    )
    return ("incomplete" if level == "low" and not complete else level), complete


def risk_level(outcome: AuditOutcome) -> dict:
    """The risk level (`level_of`) with what it rests on, its reasons and what was not tested."""
    reasons = [f"{n} {r.status}: {r.summary}" for n, r in outcome.results.items() if r.status in (FAIL, WARN)]
    if outcome.vocabulary and outcome.vocabulary["status"] == FAIL:
        reasons.append(f"vocabulary fail: {outcome.vocabulary['summary']}")
    level, complete = level_of(outcome)
    missing = not_tested(outcome)
    rests = rests_on(outcome, level)
    if not reasons:
        reasons = (
            ["No test found a significant member-minus-non-member difference."]
            if complete
            else [
                "No test that ran found a significant member-minus-non-member difference, but the audit is "
                "incomplete."
            ]
        )
    return {
        "level": level,
        "complete": complete,
        "reasons": reasons,
        "not_tested": missing,
        "rests_on": rests,
        "gate": gate_levels(outcome.context.config.risk, outcome.results),
    }


def gate_sentence(gate: Mapping[str, Any]) -> str:
    """risk.gate in words: "the gate fails at most 5% of audits of a model with no membership
    signal (T5 4%, T1 0.33%, …)"."""
    split = ", ".join(f"{t} {a:.2%}".replace(".00%", "%") for t, a in gate["by_test"].items())
    return (
        f"the gate fails at most {gate['alpha']:.0%} of audits of a model with no membership signal "
        f"(each test family-wise at its share: {split})"
    )


def gate_levels(risk: Risk, results: Mapping[str, Any]) -> dict:
    """The release gate's error per audit: at most `alpha` of audits of a model with no
    membership signal fail, spent as `by_test` (the tests that ran and fail on a p-value)."""
    return {
        "alpha": risk.gate_alpha,
        "by_test": {t: risk.fail_alpha(t) for t in gate_roles() if t in results},
    }


def rests_on(outcome: AuditOutcome, level: str) -> list[str]:
    """The results the risk level rests on: each test whose status sets the level, in one line
    with the figure that decided it."""
    deciding = {"high": FAIL, "medium": WARN}.get(level)
    if deciding is None:
        return []
    by_name = {audit.name: audit for audit in registered()}
    out = []
    for name, r in outcome.results.items():
        if r.status == deciding:
            out += by_name.get(name, Audit()).rests_on(r, deciding)
    if outcome.vocabulary and outcome.vocabulary.get("status") == FAIL and level == "high":
        out.append(f"vocabulary fail: {outcome.vocabulary['summary']}")
    return out


def build_report(
    outcome: AuditOutcome,
    config: AuditConfig,
    salt: str,
    data_hash: str,
    model_hash: str,
    include_examples: bool = False,
) -> dict:
    ctx = outcome.context
    flagged: dict[int, list[str]] = {}
    for r in outcome.results.values():
        for s, why in r.flags.items():
            flagged.setdefault(s, []).extend(why)
    tests = {}
    version_of = versions()
    for name, r in outcome.results.items():
        tests[name] = {
            "title": r.title,
            "version": version_of.get(name, "unknown"),
            "status": r.status,
            "summary": r.summary,
            "metrics": _clean(r.metrics, salt),
        }
    report = {
        "schema_version": SCHEMA_VERSION,
        "memaudit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "seed": config.seed,
        "inputs": {"data": data_hash, "model": model_hash, "config": config.fingerprint()},
        "cohort": {
            "members": len(ctx.members),
            "non_members": len(ctx.non_members),
            "member_split": config.splits.members,
            "non_member_split": config.splits.non_members,
            "excluded_per_tier": dict(ctx.excluded),
            "excluded_reason": (
                "timeline shorter than the tier's K codes plus t1.extraction_k codes to continue"
            ),
            "unknown_codes": {
                "distinct": len(outcome.unknown_codes),
                "occurrences": int(sum(outcome.unknown_codes.values())),
            },
            "skipped_tiers": dict(ctx.cohort.skipped_tiers),
            "stream": dict(ctx.cohort.stream),
        },
        "model_input": outcome.model_input,
        "coverage": _clean(outcome.coverage, salt),
        "tests": tests,
        "findings": {
            "vocabulary_artifacts": outcome.vocabulary
            or {"status": "skipped", "summary": "Skipped: the model adapter exposes no vocabulary."}
        },
        "risk": {**risk_level(outcome), **({"stability": outcome.stability} if outcome.stability else {})},
        "flagged_subjects": [
            {"subject": subject_hash(salt, s), "arm": ctx.arm(s), "tests": sorted(set(w))}
            for s, w in sorted(flagged.items(), key=lambda kv: subject_hash(salt, kv[0]))
        ],
    }
    if include_examples:
        report["examples"] = [
            {"subject": subject_hash(salt, s), "timeline": list(ctx.timelines[s].codes)}
            for s in sorted(flagged)[:10]
        ]
    return report


def subject_table(outcome: AuditOutcome, salt: str) -> pl.DataFrame:
    """Per-subject results (subjects.parquet): salted hash, arm and every per-subject metric."""
    ctx = outcome.context
    subjects = sorted(ctx.members + ctx.non_members)
    columns: dict[str, list] = {
        "subject": [subject_hash(salt, s) for s in subjects],
        "arm": [ctx.arm(s) for s in subjects],
    }
    for r in outcome.results.values():
        for name, values in sorted(r.per_subject.items()):
            columns[name] = [values.get(s) for s in subjects]
    return pl.DataFrame(columns)


def scored_sentence(report: dict) -> str:
    """ ", T4 on every record: 1225 members and 587 non-members" for each test that scored more
    subjects than the generation tests sampled (its `metrics.population`); empty otherwise."""
    cohort = report["cohort"]
    out = ""
    for name, test in report["tests"].items():
        population = (test.get("metrics") or {}).get("population") or {}
        if (
            population.get("members", 0) > cohort["members"]
            or population.get("non_members", 0) > cohort["non_members"]
        ):
            out += (
                f"; {name} on every record: {population['members']} members and "
                f"{population['non_members']} non-members"
            )
    return out


def markdown_summary(report: dict) -> str:
    lines = [
        f"## memaudit: risk {report['risk']['level'].upper()}",
        f"{report['cohort']['members']} members vs {report['cohort']['non_members']} non-members"
        + scored_sentence(report),
        "",
        "| test | status | summary |",
        "|---|---|---|",
    ]
    for name, t in report["tests"].items():
        lines.append(f"| {name} {t['title']} | {t['status']} | {t['summary']} |")
    lines.append("")
    risk = report["risk"]
    if risk.get("rests_on"):
        lines += ["the level rests on:", *(f"- {r}" for r in risk["rests_on"]), ""]
    stability = risk.get("stability") or {}
    if stability.get("recomputed"):
        shares = ", ".join(f"{level} {share:.0%}" for level, share in stability["levels"].items())
        lines += [
            f"in {stability['recomputed']} audits of a random half of the patients (no new model call): "
            f"{shares}",
            "",
        ]
    if risk.get("gate"):
        lines += [gate_sentence(risk["gate"]), ""]
    if report["risk"]["not_tested"]:
        lines += ["not tested:", *(f"- {why}" for why in report["risk"]["not_tested"]), ""]
    drawn = [
        t["metrics"]["sampling"] for t in report["tests"].values() if (t.get("metrics") or {}).get("sampling")
    ]
    if drawn:
        total, at_cap = sum(s["samples_drawn"] for s in drawn), sum(s["samples_at_cap"] for s in drawn)
        early = sum(s["stopped_early"] for s in drawn)
        lines.append(f"samples drawn: {total} of {at_cap} at the cap; {early} prompts stopped early")
    lines.append(f"flagged subjects: {len(report['flagged_subjects'])}")
    return "\n".join(lines)
