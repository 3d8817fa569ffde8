"""`memaudit card`: the audit's verdict in the model's Hugging Face model card.

The card is written with `huggingface_hub`'s `ModelCard` and `ModelCardData` (no hand-written
YAML): the front matter gains `tags: [memaudit]` and `model-index` results (the risk level and each
test's headline rates, `Audit.headline`: the membership AUROC, its TPR at each estimable
false-positive rate, the repeated-record arm's TPR …), the body
one section, "Privacy: patient-level memorization audit", between two markers. A rerun replaces
that section and those results only: the rest of the body is kept byte for byte, and running it
twice gives the same file.

What the section never holds: subject hashes, codes, or any count of patients from 1 to
SMALL_CELL − 1 (written "fewer than 11"), the small-cell rule of US public-health releases; rates
are given with their intervals instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..atomic import write_text
from ..audits.registry import registered
from ..errors import UserInputError
from ..report.schema import validate_report
from ..tables import first_line

START, END = "<!-- memaudit:start -->", "<!-- memaudit:end -->"
LEVEL_VALUE = {"incomplete": -1, "low": 0, "medium": 1, "high": 2}
TASK = "patient-level-memorization-audit"
NOT_COVERED = (
    "The audit measures what this model discloses about the patients of one cohort under the attacks "
    "and attacker knowledge listed here; it does not cover other cohorts, attacks it did not run, the "
    "de-identification of the training data, or what the model's outputs reveal when combined with "
    "other data."
)


def read_report(run_dir: Path) -> dict:
    """report.json of an audit run directory, validated; bad input in one line."""
    path = Path(run_dir) / "report.json"
    try:
        report = json.loads(path.read_text())
        validate_report(report)
    except FileNotFoundError:
        raise UserInputError(
            "an audit run directory with report.json", f"none in {run_dir}", "run memaudit audit first"
        ) from None
    except (ValueError, jsonschema.ValidationError) as e:
        detail = e.message if isinstance(e, jsonschema.ValidationError) else first_line(e)
        raise UserInputError(
            "report.json as memaudit audit writes it", f"{path}: {detail[:200]}", "rerun memaudit audit"
        ) from None
    return report


def eval_results(report: Mapping[str, Any], model_name: str) -> list[EvalResult]:
    """The audit's figures as model-index results, on the audited cohort's fingerprint."""
    dataset = {
        "dataset_type": "meds",
        "dataset_name": f"MEDS cohort {report['inputs']['data'][:12]}",
        "task_type": TASK,
        "task_name": "memaudit",
    }
    out = [
        EvalResult(
            metric_type="memaudit_risk_level",
            metric_name="risk level (-1 incomplete, 0 low, 1 medium, 2 high)",
            metric_value=LEVEL_VALUE[report["risk"]["level"]],
            **dataset,
        )
    ]
    for audit in registered():
        if audit.name in report["tests"]:
            out += [
                EvalResult(metric_type=h.key, metric_name=h.label, metric_value=round(h.value, 4), **dataset)
                for h in audit.headline(report)
                if h.rate
            ]
    return out


def section(report: Mapping[str, Any]) -> str:
    """The card's markdown section, between the markers."""
    risk = report["risk"]
    complete = "complete" if risk["complete"] else "incomplete: something it was meant to test it could not"
    lines = [
        START,
        "## Privacy: patient-level memorization audit",
        "",
        f"**Verdict: risk {risk['level'].upper()}** ({complete}), audited on {report['created'][:10]} "
        f"with memaudit {report['memaudit_version']}.",
        "",
        "| test | version | status |",
        "|---|---|---|",
    ]
    lines += [
        f"| {name} {t['title']} | {t.get('version', 'unversioned')} | {t['status']} |"
        for name, t in report["tests"].items()
    ]
    lines += ["", "**What the verdict rests on.** " + rests(report)]
    stability = risk.get("stability") or {}
    if stability.get("recomputed"):
        shares = ", ".join(f"{level} {share:.0%}" for level, share in stability["levels"].items())
        lines.append(
            f"**How stable.** In {stability['recomputed']} audits of a random half of the patients: {shares}."
        )
    lines += [
        "",
        "**Attacker knowledge tested.** " + tiers(report),
        "",
        "**Sensitive groups.** " + groups(report),
    ]
    for audit in registered():
        if audit.name in report["tests"]:
            lines += ["", *(f"**{head}.** {text}" for head, text in audit.card_paragraphs(report))]
    lines += ["", f"**Not covered.** {NOT_COVERED}", END]
    return "\n".join(lines) + "\n"


def rests(report: Mapping[str, Any]) -> str:
    """The deciding tests in words, without counts of patients."""
    deciding = {"high": "fail", "medium": "warn"}.get(report["risk"]["level"])
    if deciding is None:
        return "no test found a significant member-minus-non-member difference."
    audits = {audit.name: audit for audit in registered()}
    parts = []
    for name, t in report["tests"].items():
        if t["status"] == deciding:
            parts += audits[name].card_lines(report, deciding) if name in audits else [f"{name} {deciding}"]
    return "; ".join(parts) + "."


def tiers(report: Mapping[str, Any]) -> str:
    skipped = report["cohort"].get("skipped_tiers") or {}
    tested = [t for t in report["config"].get("tiers", []) if t not in skipped]
    text = ", ".join(f"`{t}`" for t in tested) or "none"
    if skipped:
        text += "; not tested: " + "; ".join(f"`{t}` ({why})" for t, why in skipped.items())
    return text + "."


def groups(report: Mapping[str, Any]) -> str:
    found = (report.get("coverage") or {}).get("groups") or {}
    tested = [g["label"] for g in found.values() if g["status"] == "tested"]
    untested = [
        f"{g['label']} ({g.get('reason') or g['status']})" for g in found.values() if g["status"] != "tested"
    ]
    text = "tested: " + (", ".join(tested) or "none")
    if untested:
        text += "; not tested: " + "; ".join(untested)
    return text + "."


def updated_card(existing: str | None, report: Mapping[str, Any], model_name: str | None) -> str:
    """The card text with the section and the results replaced (or added)."""
    try:
        card = (
            ModelCard(existing)
            if existing is not None
            else ModelCard(f"---\ntags: [memaudit]\n---\n\n# {model_name or 'Model'}\n")
        )
    except (ValueError, yaml.YAMLError) as e:
        raise UserInputError(
            "a model card (markdown with YAML front matter between --- lines)",
            first_line(e)[:200],
            "fix the card's front matter, or pass no --model-card to start a new one",
        ) from None
    data = card.data.to_dict()
    name = model_name or data.get("model_name") or "model"
    kept = [r for r in (ModelCardData(**data).eval_results or []) if r.task_type != TASK]
    tags = list(data.get("tags") or [])
    if "memaudit" not in tags:
        tags.append("memaudit")
    data.update(tags=tags, model_name=name)
    data.pop("model-index", None)
    data.pop("eval_results", None)
    card.data = ModelCardData(**data, eval_results=kept + eval_results(report, name))
    body = card.text
    block = section(report)
    if START in body and END in body:
        before, rest = body.split(START, 1)
        after = rest.split(END, 1)[1].removeprefix("\n")
        card.text = before + block + after
    else:
        card.text = body.rstrip("\n") + "\n\n" + block
    return str(card)


def write_card(run_dir: Path, model_card: Path | None, out: Path | None, model_name: str | None) -> Path:
    """Write the card (`out`, default the model card given, else RUN/model_card.md)."""
    report = read_report(run_dir)
    existing = None
    if model_card is not None:
        try:
            existing = Path(model_card).read_text()
        except OSError as e:
            raise UserInputError(
                "a readable model card", f"{model_card}: {e.strerror}", "check the path"
            ) from None
    target = Path(out or model_card or Path(run_dir) / "model_card.md")
    write_text(target, updated_card(existing, report, model_name))
    return target
