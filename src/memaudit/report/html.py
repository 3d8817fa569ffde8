"""report.html: one self-contained page rendered from report.json alone (no recomputation).

The page is Jinja2 templates (`report/templates/`, autoescaped): `page.html.j2` includes one
template per section and one per test's fragment (`tests/T4.html.j2` …); figures are inline SVG
built here (`svg.py`) and passed in as markup."""

from __future__ import annotations

from pathlib import Path

import jinja2
from markupsafe import Markup

from ..atomic import write_text
from . import svg

METHODS = {
    "T1": (
        "Each subject is prompted with what an attacker might know (nothing, demographics, or "
        "demographics plus the first K codes). The model's sampled continuations are compared with the "
        "subject's real next codes: an earth mover's distance over code embeddings whose cost grows with "
        "the time between codes (the truth's real times, the sample's time-gap codes; off when the "
        "model's stream has none), the share of real codes reproduced, and whether greedy decoding "
        "reproduces the next k codes exactly. Members are compared with non-members with a one-sided test"
        " per tier, corrected for the number of tiers: a gap is memorization; equal figures are what the "
        "model would say about anyone. A gap warns when significant at the false discovery rate and fails "
        "only when it is significant family-wise at this test's share of the gate's error rate."
    ),
    "T2": (
        "The codes of each sensitive group are removed from the prompt. p̂ is the share of a subject's "
        "samples that bring a code of the group back. A subject counts as having the group when it is "
        "among the next codes a sample can reach (the generation horizon). We measure how well p̂ ranks "
        "those subjects (AUROC, AUPRC, precision and recall at the threshold), separately for members and"
        " non-members, and test the member-minus-non-member AUROC gap by permuting arm labels, corrected "
        "for the number of groups and tiers (to warn: false discovery rate; to fail: family-wise, at this "
        "test's share of the gate's error rate). A group whose codes the cohort does not hold, or with too "
        "few subjects, is listed as not tested. Samples are drawn in rounds: a prompt stops once every "
        "flag it decides is settled either way by a confidence sequence whose chance of stopping on the "
        "wrong side of the threshold is at most generation.stop_error (5% by default); the sampling table "
        "below says what each test drew."
    ),
    "T3": (
        "A logistic-regression probe, trained with cross-fitting so that no subject is scored by a probe "
        "trained on it, predicts each sensitive group from the model's embedding of the prompt. Higher "
        "accuracy for members than non-members means the embedding encodes what it saw in training. Its "
        "gaps are tested and corrected as T2's."
    ),
    "T4": (
        "Membership inference: from one forward pass over the whole timeline, scores such as the mean "
        "loss, Min-K%, Min-K%++ and a code-frequency analogue of the zlib ratio rank members above non-"
        "members. The attack with the largest AUROC decides the status, with an interval that holds for "
        "all attacks at once, because quoting the best of several with its own interval would overstate "
        "the risk (or the attack the configuration names, with its own interval). We "
        "report AUROC, the true-positive rate at low false-positive rates (only where there are at least "
        "ten times as many non-members as the rate requires), and a heuristic lower bound on the privacy "
        "loss ε whose threshold is chosen on half the subjects and checked on the other half."
    ),
    "T5": (
        "Each member case T2 flagged is sampled afresh (in rounds; a case settled below the threshold "
        "stops there and is not replicated). With a reference model (trained the same way "
        "without these patients), the audited model's rate is contrasted with the reference model's, and "
        "the contrast is judged against the same contrast for non-members flagged the same way, whom "
        "neither model saw: a case the audited model leaks far more than the reference does, beyond what "
        "unseen patients show, is memorized; one the reference model leaks too is generalized. Without a "
        "reference model the case is re-sampled with its identifiers changed (age band, sex, one code); "
        "that describes whether the answer depends on them, but an age-dependent pattern also changes "
        "with age and a memorized record keyed on rare codes does not, so it can warn and never fail."
    ),
    "T6": (
        "Patients with rare conditions, the elderly and patients whose prompt few others share are "
        "compared with everyone else: the member-minus-non-member difference of T1 recovery, T2 flags and"
        " T4 identification inside the subgroup minus the same difference outside it, with an interval "
        "and a correction for the number of comparisons. An empty or small subgroup is listed as not "
        "tested."
    ),
}


VERDICT_CLASS = {"memorized": "fail", "likely_memorized": "warn"}
# the page's sections in order; a test's fragment is `tests/<name>.html.j2`
SECTIONS = (
    "sections/executive.html.j2",
    "sections/coverage.html.j2",
    "sections/leakage.html.j2",
    "tests/T4.html.j2",
    "tests/T5.html.j2",
    "tests/T6.html.j2",
    "sections/vocabulary.html.j2",
    "sections/methods.html.j2",
    "sections/model_input.html.j2",
    "sections/sampling.html.j2",
    "sections/flagged.html.j2",
)
PROFILE_FIGURES = 12  # T5 perturbation profiles drawn; the rest are in report.json


def _fmt(v: object, pct: bool = False) -> object:
    """A metric for a table cell: floats to three decimals (or a percentage), None as a dash."""
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.1%}" if pct else f"{v:.3f}"
    return v


def _percent(v: float, digits: int = 1) -> str:
    return f"{v:.{digits}%}"


def _shares(by: dict) -> str:
    """{"medium": 0.9, "low": 0.1} as "medium 90%, low 10%"."""
    return ", ".join(f"{k} {v:.0%}" for k, v in by.items())


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("memaudit.report", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.ChainableUndefined,
    keep_trailing_newline=False,
)
ENVIRONMENT.filters.update(fmt=_fmt, percent=_percent, shares=_shares)


def _figure(body: str, caption: str) -> dict:
    return {"body": Markup(body), "caption": caption}


def _ordered(report: dict, by_tier: dict) -> list[str]:
    """Tiers in the config's order of attacker knowledge (JSON keys come back sorted)."""
    return [t for t in report["config"]["tiers"] if t in by_tier]


def _tier_rows(report: dict) -> list[dict]:
    """Per tier: T1 recovery by arm, its residual risk and the best T2 member AUROC over groups."""
    t1 = report["tests"]["T1"]["metrics"].get("by_tier", {})
    t2 = report["tests"]["T2"]["metrics"].get("by_group", {})
    rows = []
    for tier in _ordered(report, t1):
        e = t1[tier]
        aurocs = [
            g["by_tier"][tier]["member"]["auroc"]
            for g in t2.values()
            if tier in g["by_tier"] and g["by_tier"][tier]["member"]["auroc"] is not None
        ]
        rows.append(
            {
                "tier": tier,
                "member": e["recovery"]["member"],
                "non_member": e["recovery"]["non_member"],
                "residual": e["residual_risk_recovery"],
                "best_auroc": max(aurocs) if aurocs else None,
            }
        )
    return rows


def _leakage_figures(report: dict) -> list[dict]:
    t1 = report["tests"]["T1"]["metrics"].get("by_tier")
    figs = []
    if t1:
        tiers = _ordered(report, t1)
        for metric, axis, title, caption in (
            (
                "recovery",
                "share of true codes reproduced",
                "T1 recovery by tier",
                "T1: share of the true next codes reproduced, by attacker knowledge (95% CI).",
            ),
            (
                "demd",
                "dEMD (lower = closer)",
                "T1 distance by tier",
                "T1: dEMD between sampled and true continuations (lower is closer).",
            ),
        ):
            series = {
                arm: [(t1[t][metric][arm], t1[t][metric][f"{arm}_ci95"]) for t in tiers]
                for arm in ("member", "non_member")
            }
            figs.append(_figure(svg.tier_lines(tiers, series, axis, title), caption))
    t2 = report["tests"]["T2"]["metrics"].get("by_group")
    if t2:
        tiers = _ordered(report, next(iter(t2.values()))["by_tier"])
        series = {}
        for arm in ("member", "non_member"):
            pts = []
            for t in tiers:
                vals = [
                    g["by_tier"][t][arm]["auroc"]
                    for g in t2.values()
                    if g["by_tier"][t][arm]["auroc"] is not None
                ]
                pts.append((sum(vals) / len(vals) if vals else None, None))
            series[arm] = pts
        figs.append(
            _figure(
                svg.tier_lines(tiers, series, "mean AUROC over groups", "T2 AUROC by tier"),
                "T2: how well regenerated sensitive codes identify who has them (mean AUROC over groups).",
            )
        )
    return figs


def _roc_figure(report: dict) -> dict | None:
    m = report["tests"]["T4"]["metrics"].get("by_score")
    if not m:
        return None
    curves = {f"{n} (AUROC {s['auroc']:.2f})": (s["roc"]["fpr"], s["roc"]["tpr"]) for n, s in m.items()}
    decision = report["tests"]["T4"]["metrics"]["decision"]
    marks = [(o["fpr"], o["tpr"]) for o in decision["tpr_at_fpr"] if o["status"] == "ok"]
    return _figure(
        svg.log_roc(curves, marks, "T4 log-scale ROC"),
        "Log-scale ROC of each score on every audited subject; circles mark the operating points of the "
        "score that decides, judged on the subjects it was not chosen on.",
    )


def _profile_figures(report: dict) -> list[dict]:
    """T5 without a reference: each case's change of p̂ under each identifier perturbation."""
    t5 = report["tests"]["T5"]["metrics"]
    if t5.get("mode") == "counterfactual":
        return []
    figs = []
    for c in t5.get("cases", [])[:PROFILE_FIGURES]:
        prof = c["profile"]
        items = [(k, v - prof["original"], None) for k, v in prof.items() if k != "original"]
        figs.append(
            _figure(
                svg.bars(items, f"T5 profile {c['subject']}", -1, 1),
                f"{c['subject']} · {c['group']} @ {c['tier']}: p̂ {prof['original']:.2f}; change under each "
                f"perturbation. {c['verdict']} (sharpness {c['sharpness']:.2f}, p = {c['p_value']:.3f}).",
            )
        )
    return figs


def _disparity_figure(report: dict) -> dict | None:
    subs = report["tests"]["T6"]["metrics"].get("by_subgroup")
    if not subs:
        return None
    items = [
        (f"{name} · {metric}", e["did"], e["did_ci95"])
        for name, sub in subs.items()
        for metric, e in sub.items()
        if isinstance(e, dict) and e.get("status") == "ok"
    ]
    body = svg.bars(items, "T6 disparity chart") if items else "<p>No subgroup had enough subjects.</p>"
    return _figure(
        body, "Member-minus-non-member difference inside the subgroup minus outside it, with 95% CI."
    )


def render_html(report: dict) -> str:
    return ENVIRONMENT.get_template("page.html.j2").render(
        report=report,
        sections=SECTIONS,
        methods=METHODS,
        verdict_class=VERDICT_CLASS,
        tier_rows=_tier_rows(report),
        leakage_figures=_leakage_figures(report),
        roc_figure=_roc_figure(report),
        profile_figures=_profile_figures(report),
        disparity_figure=_disparity_figure(report),
    )


def write_html(report: dict, path: Path) -> None:
    write_text(Path(path), render_html(report))
