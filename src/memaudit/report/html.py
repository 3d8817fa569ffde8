"""report.html: one self-contained page rendered from report.json alone (no recomputation)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from ..atomic import write_text
from . import svg

CSS = """
body{font-family:Georgia,serif;max-width:980px;margin:2em auto;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.7em;margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.verdict{font-size:1.3em;padding:.6em 1em;border-radius:4px;display:inline-block;color:#fff}
.low{background:#2e7d32}.medium{background:#ef8f00}.high{background:#c62828}.incomplete{background:#6d4c41}
.pass{color:#2e7d32;font-weight:bold}.warn{color:#ef8f00;font-weight:bold}.fail{color:#c62828;font-weight:bold}
.skipped,.not_tested{color:#777}
.figs{display:flex;flex-wrap:wrap;gap:1em} figure{margin:0}
figcaption{font-size:.85em;color:#555;max-width:460px}
.small{font-size:.85em;color:#555}
@media print{body{margin:0} h2{page-break-after:avoid} figure{page-break-inside:avoid}}
"""

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


def _fmt(v: object, pct: bool = False) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.1%}" if pct else f"{v:.3f}"
    return escape(str(v))


def _ordered(report: dict, by_tier: dict) -> list[str]:
    """Tiers in the config's order of attacker knowledge (JSON keys come back sorted)."""
    return [t for t in report["config"]["tiers"] if t in by_tier]


def _figure(body: str, caption: str) -> str:
    return f"<figure>{body}<figcaption>{escape(caption)}</figcaption></figure>"


def _executive(report: dict) -> str:
    risk = report["risk"]
    rows = "".join(
        f'<tr><td>{n} {escape(t["title"])}</td><td class="{t["status"]}">{t["status"]}</td>'
        f"<td>{escape(t['summary'])}</td></tr>"
        for n, t in report["tests"].items()
    )
    tiers_rows = ""
    t1 = report["tests"]["T1"]["metrics"].get("by_tier", {})
    t2 = report["tests"]["T2"]["metrics"].get("by_group", {})
    for tier in _ordered(report, t1):
        e = t1[tier]
        aurocs = [
            g["by_tier"][tier]["member"]["auroc"]
            for g in t2.values()
            if tier in g["by_tier"] and g["by_tier"][tier]["member"]["auroc"] is not None
        ]
        tiers_rows += (
            f"<tr><td>{escape(tier)}</td><td>{_fmt(e['recovery']['member'], True)}</td>"
            f"<td>{_fmt(e['recovery']['non_member'], True)}</td><td>{_fmt(e['residual_risk_recovery'])}</td>"
            f"<td>{_fmt(max(aurocs) if aurocs else None)}</td></tr>"
        )
    tier_table = (
        (
            "<h3>What an attacker learns at each knowledge tier</h3><table><tr><th>attacker knows</th>"
            "<th>members' next codes reproduced</th><th>non-members'</th><th>residual risk</th>"
            "<th>best sensitive-group AUROC (members)</th></tr>" + tiers_rows + "</table>"
        )
        if tiers_rows
        else ""
    )
    reasons = "".join(f"<li>{escape(r)}</li>" for r in risk["reasons"])
    return (
        f'<h2>Executive summary</h2><p><span class="verdict {risk["level"]}">'
        f"Risk: {risk['level'].upper()}</span></p>"
        f"<ul>{reasons}</ul>{_how_sure(risk)}<table><tr><th>test</th><th>status</th><th>finding</th></tr>{rows}</table>{tier_table}"
    )


def _how_sure(risk: dict) -> str:
    """What the level rests on and how often audits of half the patients reach each level."""
    rests = risk.get("rests_on") or []
    out = ""
    if rests:
        out += (
            "<p><b>The level rests on:</b></p><ul>"
            + "".join(f"<li>{escape(r)}</li>" for r in rests)
            + "</ul>"
        )
    stab = risk.get("stability") or {}
    if stab.get("recomputed"):
        shares = ", ".join(f"{escape(level)} {share:.0%}" for level, share in stab["levels"].items())
        tests = "; ".join(
            f"{escape(name)} " + ", ".join(f"{escape(s)} {v:.0%}" for s, v in by.items())
            for name, by in stab["tests"].items()
            if len(by) > 1
        )
        out += (
            f"<p><b>How stable:</b> in {stab['recomputed']} audits of a random half of the patients (the "
            f"same model responses, no new model call), the risk level was {shares}."
            + (f" Tests that changed status: {tests}." if tests else " No test changed status.")
            + " Another training of the model is a different question, measured by "
            "<code>memaudit validate --repeat</code> on synthetic data.</p>"
        )
    elif stab:
        out += f"<p class='small'>Stability: {escape(stab.get('note', 'not computed'))}.</p>"
    return out


def _leakage(report: dict) -> str:
    t1 = report["tests"]["T1"]["metrics"].get("by_tier")
    figs = []
    if t1:
        tiers = _ordered(report, t1)
        series = {
            arm: [(t1[t]["recovery"][arm], t1[t]["recovery"][f"{arm}_ci95"]) for t in tiers]
            for arm in ("member", "non_member")
        }
        figs.append(
            _figure(
                svg.tier_lines(tiers, series, "share of true codes reproduced", "T1 recovery by tier"),
                "T1: share of the true next codes reproduced, by attacker knowledge (95% CI).",
            )
        )
        dseries = {
            arm: [(t1[t]["demd"][arm], t1[t]["demd"][f"{arm}_ci95"]) for t in tiers]
            for arm in ("member", "non_member")
        }
        figs.append(
            _figure(
                svg.tier_lines(tiers, dseries, "dEMD (lower = closer)", "T1 distance by tier"),
                "T1: dEMD between sampled and true continuations (lower is closer).",
            )
        )
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
    return "<h2>Leakage vs attacker knowledge</h2>" + (
        f'<div class="figs">{"".join(figs)}</div>' if figs else "<p>T1 and T2 were skipped.</p>"
    )


def _roc(report: dict) -> str:
    m = report["tests"]["T4"]["metrics"].get("by_score")
    if not m:
        return f"<h2>Membership inference (T4)</h2><p>{escape(report['tests']['T4']['summary'])}</p>"
    curves = {f"{n} (AUROC {s['auroc']:.2f})": (s["roc"]["fpr"], s["roc"]["tpr"]) for n, s in m.items()}
    decision = report["tests"]["T4"]["metrics"]["decision"]
    marks = [(o["fpr"], o["tpr"]) for o in decision["tpr_at_fpr"] if o["status"] == "ok"]
    rows = ""
    for n, s in m.items():
        ops = " ".join(
            f"{o['fpr']:g}: "
            + (
                f"{o['tpr']:.1%} [{o['tpr_ci95'][0]:.1%}, {o['tpr_ci95'][1]:.1%}] at achieved FPR "
                f"{o['achieved_fpr']:.2%} [{o['achieved_fpr_ci95'][0]:.2%}, {o['achieved_fpr_ci95'][1]:.2%}]"
                if o["status"] == "ok"
                else "insufficient"
            )
            + "<br>"
            for o in s["tpr_at_fpr"]
        )
        ci = s["auroc_ci95"]
        rows += (
            f"<tr><td>{escape(n)} ({escape(s['role'])})</td><td>{_fmt(s['auroc'])} [{_fmt(ci[0])}, "
            f"{_fmt(ci[1])}]</td><td>{ops}</td>"
            f"<td>{_fmt(s['epsilon_lower_bound']['epsilon'])}</td></tr>"
        )
    return (
        "<h2>Membership inference (T4)</h2>"
        + _figure(
            svg.log_roc(curves, marks, "T4 log-scale ROC"),
            "Log-scale ROC of each score on every audited subject; circles mark the operating points of "
            "the score "
            "that decides, judged on the subjects it was not chosen on.",
        )
        + "<table><tr><th>score</th><th>AUROC [95% CI]</th><th>TPR at FPR</th><th>ε lower bound</th></tr>"
        + f"{rows}</table>"
    )


VERDICT_CLASS = {"memorized": "fail", "likely_memorized": "warn"}


def _t5_tail(metrics: dict) -> str:
    """The null's tail check: does the fitted tail hold on the null's own cases?"""
    tail = metrics.get("null_tail")
    if not tail:
        return ""
    check = tail["check"]
    rows = "".join(
        f"<tr><td>{escape(model.replace('_', ' '))}</td>"
        + "".join(
            f"<td>{r['beyond']} (expected {r['expected']:.1f})</td>"
            for r in check[model]["by_quantile"].values()
        )
        + f"<td>{'holds' if check[model]['holds'] else 'too many beyond'}</td></tr>"
        for model in ("normal", "student_t")
    )
    heads = "".join(
        f"<th>beyond the {float(q) * 100:g}th percentile</th>" for q in check["normal"]["by_quantile"]
    )
    used = (
        f"Student t with {tail['student_t']['df']:g} degrees of freedom"
        if tail["p_value_from"] == "student_t"
        else "the empirical ranks among the null cases (no fitted tail held)"
    )
    return (
        f"<p class='small'>The null's tail, checked on its own {check['n_null']} cases (each left out in "
        f"turn, the null refitted without it): p-values come from {escape(used)}.</p>"
        f"<table><tr><th>null model</th>{heads}<th>check</th></tr>{rows}</table>"
    )


def _t5(report: dict) -> str:
    t5 = report["tests"]["T5"]
    cases = t5["metrics"].get("cases", [])
    title = "<h2>Memorized or generalized (T5)</h2>"
    if not cases:
        return f"{title}<p>{escape(t5['summary'])}</p>"
    if t5["metrics"].get("mode") == "counterfactual":
        rows = "".join(
            f"<tr><td><code>{escape(c['subject'])}</code></td><td>{escape(c['group'])} @ "
            f"{escape(c['tier'])}</td>"
            f"<td>{_fmt(c['p_audited'])}</td><td>{_fmt(c['p_reference'])}</td><td>{_fmt(c['contrast'])}</td>"
            f"<td>{_fmt(c.get('holm_p'))}</td><td>{_fmt(c['q_value'])}</td>"
            f"<td class='{VERDICT_CLASS.get(c['verdict'], '')}'>"
            f"{escape(c['verdict'].replace('_', ' '))}</td></tr>"
            for c in cases
        )
        return (
            f"{title}<p>{escape(t5['summary'])}</p>{_t5_tail(t5['metrics'])}<table><tr><th>subject</th>"
            "<th>group @ tier</th><th>share of samples, audited model</th><th>reference model</th><th>logit "
            "contrast</th><th>Holm p</th><th>q</th>"
            f"<th>verdict</th></tr>{rows}</table>"
        )
    figs = []
    for c in cases[:12]:
        prof = c["profile"]
        items = [(k, v - prof["original"], None) for k, v in prof.items() if k != "original"]
        figs.append(
            _figure(
                svg.bars(items, f"T5 profile {c['subject']}", -1, 1),
                f"{c['subject']} · {c['group']} @ {c['tier']}: p̂ {prof['original']:.2f}; change under each "
                f"perturbation. {c['verdict']} (sharpness {c['sharpness']:.2f}, p = {c['p_value']:.3f}).",
            )
        )
    more = f"<p class='small'>{len(cases) - 12} more case(s) in report.json.</p>" if len(cases) > 12 else ""
    return f'{title}<p>{escape(t5["summary"])}</p><div class="figs">{"".join(figs)}</div>{more}'


def _t6(report: dict) -> str:
    subs = report["tests"]["T6"]["metrics"].get("by_subgroup")
    if not subs:
        return f"<h2>Subgroups (T6)</h2><p>{escape(report['tests']['T6']['summary'])}</p>"
    items = [
        (f"{name} · {metric}", e["did"], e["did_ci95"])
        for name, sub in subs.items()
        for metric, e in sub.items()
        if isinstance(e, dict) and e.get("status") == "ok"
    ]
    body = svg.bars(items, "T6 disparity chart") if items else "<p>No subgroup had enough subjects.</p>"
    untested = "".join(
        f"<li>{escape(name)} · {escape(metric)}: {escape(e.get('reason') or e.get('status', ''))}</li>"
        for name, sub in subs.items()
        for metric, e in sub.items()
        if isinstance(e, dict) and e.get("status") != "ok"
    )
    return (
        "<h2>Subgroups (T6)</h2>"
        + _figure(
            body, "Member-minus-non-member difference inside the subgroup minus outside it, with 95% CI."
        )
        + (f"<p>Not tested:</p><ul>{untested}</ul>" if untested else "")
    )


def _coverage(report: dict) -> str:
    """What the audit could and could not test (known before any model call)."""
    cov = report.get("coverage") or {}
    rows = "".join(
        f"<tr><td>{escape(g['label'])}</td><td>{g['codes_in_stream']}</td>"
        f"<td>{g['positives_anywhere']['member']} / {g['positives_anywhere']['non_member']}</td>"
        f"<td>{escape(', '.join(g['tiers_tested']) or '–')}</td><td>{escape(g['status'])}"
        f"{': ' + escape(g['reason']) if g.get('reason') else ''}</td></tr>"
        for g in cov.get("groups", {}).values()
    )
    tests = "".join(
        f"<tr><td>{escape(n)}</td><td>{'yes' if t['testable'] else 'no'}</td>"
        f"<td>{escape(t.get('reason') or '')}</td></tr>"
        for n, t in cov.get("tests", {}).items()
    )
    missing = "".join(f"<li>{escape(r)}</li>" for r in report["risk"].get("not_tested", []))
    return (
        "<h2>What the audit could test</h2><table><tr><th>sensitive group</th><th>codes in the stream</th>"
        "<th>subjects with it (members / non-members)</th><th>tested at</th><th>status</th></tr>"
        f"{rows}</table><table><tr><th>test</th><th>had something to test</th><th>why "
        f"not</th></tr>{tests}</table>" + (f"<p>Not tested:</p><ul>{missing}</ul>" if missing else "")
    )


def _vocabulary(report: dict) -> str:
    v = report.get("findings", {}).get("vocabulary_artifacts")
    if not v:
        return ""
    masked = "".join(
        f"<li><code>{escape(t)}</code></li>" for t in v.get("identifying_tokens_masked", [])[:20]
    )
    return (
        f"<h2>Vocabulary artifacts</h2><p class='{escape(v['status'])}'>{escape(v['status'])}</p>"
        f"<p>{escape(v['summary'])}</p>" + (f"<ul>{masked}</ul>" if masked else "")
    )


def _model_input(report: dict) -> str:
    """What the model was sent: skipped tiers, static rows, derived codes, context windows."""
    c, items = report["cohort"], []
    for tier, why in c.get("skipped_tiers", {}).items():
        items.append(f"Tier <code>{escape(tier)}</code> was not run: {escape(why)}.")
    stream = c.get("stream") or {}
    static = stream.get("static_rows_found")
    if static and static.get("static_codes"):
        items.append(
            f"Static rows ({static['static_codes']} distinct codes) were "
            f"{'kept' if static['used'] else 'dropped'}: {escape(static['reason'])}."
        )
    derived = [
        name
        for key, name in (
            ("derived_age", "an age band at the first event"),
            ("derived_time_gaps", "time-gap codes between events"),
            ("event_to_code", "codes rewritten by the event_to_code hook"),
        )
        if stream.get(key)
    ]
    if derived:
        items.append("The model's stream was rebuilt from MEDS with " + escape(", ".join(derived)) + ".")
    if report.get("model_input"):
        items.append(escape(report["model_input"]["summary"]))
    return "<h3>Model input</h3>" + "".join(f"<p>{i}</p>" for i in items) if items else ""


def _sampling(report: dict) -> str:
    """Samples each test drew: sequential sampling stops a prompt once its decisions are settled."""
    rows = ""
    for name, t in report["tests"].items():
        s = (t.get("metrics") or {}).get("sampling")
        if not s or not s.get("prompts"):
            continue
        per = f"{s['first_round']} to {s['cap']}" if s["sequential"] else str(s["cap"])
        share = s["samples_drawn"] / max(s["samples_at_cap"], 1)
        rows += (
            f"<tr><td>{escape(name)}</td><td>{per}</td><td>{s['prompts']}</td>"
            f"<td>{s['samples_drawn']} ({share:.0%} of the cap)</td>"
            f"<td>{s['stopped_early']}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<h3>Sampling</h3><table><tr><th>test</th><th>samples per prompt</th><th>prompts</th>"
        f"<th>samples drawn</th><th>prompts stopped before the cap</th></tr>{rows}</table>"
    )


def _flagged(report: dict) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(f['subject'])}</code></td><td>{escape(f.get('arm', ''))}</td>"
        f"<td>{escape(', '.join(f['tests']))}</td></tr>"
        for f in report["flagged_subjects"]
    )
    return (
        "<h2>Flagged cases</h2><p class='small'>Subjects are named by salted hash only; the salt stays in "
        "the run "
        "directory.</p>"
        + (
            f"<table><tr><th>subject</th><th>arm</th><th>flagged by</th></tr>{rows}</table>"
            if rows
            else "<p>None.</p>"
        )
    )


def render_html(report: dict) -> str:
    methods = "".join(
        f"<h3>{n} {escape(report['tests'][n]['title'])}</h3><p>{escape(t)}</p>" for n, t in METHODS.items()
    )
    c = report["cohort"]
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>memaudit report</title>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src "
        "'unsafe-inline'; img-src data:\">"
        f"<style>{CSS}</style></head><body><h1>Memorization audit</h1>"
        f"<p class='small'>memaudit {escape(report['memaudit_version'])} · report schema "
        f"{escape(report['schema_version'])}"
        f" · {escape(report['created'])} · seed {report['seed']} · {c['members']} members vs "
        f"{c['non_members']} "
        f"non-members · data {escape(report['inputs']['data'])} · model "
        f"{escape(report['inputs']['model'])}</p>"
        + _executive(report)
        + _coverage(report)
        + _leakage(report)
        + _roc(report)
        + _t5(report)
        + _t6(report)
        + _vocabulary(report)
        + f"<h2>Methods</h2>{methods}"
        + _model_input(report)
        + _sampling(report)
        + _flagged(report)
        + "</body></html>"
    )


def write_html(report: dict, path: Path) -> None:
    write_text(Path(path), render_html(report))
