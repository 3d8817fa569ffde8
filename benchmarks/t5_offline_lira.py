"""T5's two candidate options judged on runs whose counterfactual truth is measured: the
half-models as references with a per-case null (offline LiRA), on the sample share and on the
teacher-forced log-probability.

    python benchmarks/t5_offline_lira.py RUN_DIR [RUN_DIR ...] [--placebo-draws N] [--json OUT]

Each RUN_DIR is a `memaudit validate --repeat ... --keep` run (`data/`, `model/`, `audit/`) on which
`memaudit validate --truth-models K` has written `audit/truth/`. For every case T5 judged and every
null case of its audit, the K half-models' answers are read from their caches; the audited model's
teacher-forced log-probability of the group's first true code is computed here (one scoring pass).

Per case, against the half-models that did not see it (a member's K/2 "out" models; for a null
case, which no model saw, one model of each complementary pair):

    z = (audited − mean over the out models) / max(sd over the out models, floor)

with the audited model's share of samples holding the group (floor 0.02) or its log-probability
(floor 0.05 nats). The audited model saw the whole member split and the half-models half of it, so
z is not standard normal even for a case nobody memorized: the null cases (non-members, seen by no
model) give its distribution, and a judged case's p-value is the normal tail of its z under the
null cases' mean and sd. Calls: Holm across the audit's judged cases at T5's share of the gate's
α, and (for the share) an effect of at least T5's min_effect over the out models' mean. What a
call is worth is read against the half-models' labels (memorized: the models that saw the record
say ≥ 0.2 more in share, interval above 0); what it costs where nothing can be memorized is read
on the null cases themselves, each judged against the others' fit (leave one out) at the audit's
first Holm step.

The options are adopted only where they raise recall at the same false-FAIL rate of placebo audits.
`--placebo-draws N` measures that rate: the half-models are asked the cases of the run's first N
placebo audits (both arms unseen by every model, so any call is false; answers cached beside the
truth as `placebo_<draw>_answers_<model>.json`), each option judges the placebo's posing members
against the placebo's own null cases exactly as above, and a placebo audit with a call is a false
FAIL of that option. This script gives the evidence for the decision, not the decision.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats as sps

from memaudit.audits.stats import clopper_pearson, holm
from memaudit.audits.t5.cases import prompt_evidence
from memaudit.cohort.meds_reader import MedsDataset
from memaudit.groundtruth.truth_models import half_model_names
from memaudit.report.privacy import subject_hash

FLOORS = {"share": 0.02, "logprob": 0.05}


def _cases(run: Path, dataset: MedsDataset, report: dict, salt: str) -> tuple[object, list[dict]]:
    """The audit's context over `dataset` and the cases `cases_to_ask` gives (truth.json's order)."""
    from memaudit.config import load_config
    from memaudit.groundtruth.truth_models import cases_to_ask
    from memaudit.pipeline import ModelSource, build_adapter, prepare

    config = load_config(overrides=report["config"])
    ctx = prepare(dataset, config, build_adapter(ModelSource(model=run / "model"), config))
    return ctx, cases_to_ask(ctx, report, salt, pl.read_parquet(run / "data" / "ground_truth.parquet"))


def _audited_logprobs(run: Path, items: list[dict]) -> list[float | None]:
    """The audited model's teacher-forced log-probability per case (None without one)."""
    from memaudit.adapters.hf import HFAdapter

    teachers = [i["teacher"] for i in items if i["teacher"] is not None]
    scored = dict(zip(teachers, HFAdapter(run / "model").score(teachers))) if teachers else {}
    return [None if i["teacher"] is None else float(scored[i["teacher"]].logprobs[-1]) for i in items]


def _z(audited: float, out: np.ndarray, floor: float) -> float:
    return float((audited - out.mean()) / max(out.std(ddof=1), floor))


def _against(answers: list[dict], j: int, out: np.ndarray, p_audited: float, logprob: float | None) -> dict:
    """Case j's statistics against the half-models selected by `out` (K,): the share's effect and
    z, and the log-probability's z where the case has a teacher-forced sequence."""
    shares = np.array([a["shares"][j] for a in answers])[out]
    stats = {
        "share_effect": float(p_audited - shares.mean()),
        "z_share": _z(p_audited, shares, FLOORS["share"]),
    }
    if logprob is not None:
        lp = np.array([a["logprobs"][j] for a in answers])[out]
        stats["z_logprob"] = _z(logprob, lp, FLOORS["logprob"])
    return stats


def judge(run: Path) -> dict:
    audit = run / "audit"
    report = json.loads((audit / "report.json").read_text())
    salt = (audit / "salt.secret").read_text().strip()
    truth = json.loads((audit / "truth" / "truth.json").read_text())
    k = truth["k"]
    names = half_model_names(k)
    answers = [json.loads((audit / "truth" / f"answers_{n}.json").read_text()) for n in names]
    unseen = [
        set(pl.read_parquet(audit / "truth" / n / "unseen_members.parquet")["subject_id"].to_list())
        for n in names
    ]
    splits = MedsDataset(run / "data").subject_splits()
    members = set(splits.filter(pl.col("split") == report["config"]["splits"]["members"])["subject_id"])
    by_hash = {subject_hash(salt, s): s for s in splits["subject_id"].to_list()}
    t5 = report["tests"]["T5"]["metrics"]
    audited = {(c["subject"], c["group"], c["tier"]): c for c in t5["cases"] + t5["null_cases"]}
    ctx, items = _cases(run, MedsDataset(run / "data"), report, salt)
    logprobs = _audited_logprobs(run, items)
    side0 = np.array([n.endswith("_0") for n in names])

    rows = []
    for j, case in enumerate(truth["cases"]):
        key = (case["subject"], case["group"], case["tier"])
        if case["kind"] not in ("judged", "null") or key not in audited:
            continue
        sid = by_hash[case["subject"]]
        seen = np.array([sid in members and sid not in u for u in unseen])
        out = ~seen if seen.any() else side0
        row = {"kind": case["kind"], "label": case.get("label"), "verdict": case.get("verdict")}
        row["evidence"] = prompt_evidence(ctx, case["group"], case["tier"], sid)
        rows.append(row | _against(answers, j, out, audited[key]["p_audited"], logprobs[j]))

    fail_alpha = t5.get("fail_alpha", 0.04)
    min_effect = t5.get("min_effect", 0.2)
    judged = [r for r in rows if r["kind"] == "judged"]
    nulls = [r for r in rows if r["kind"] == "null"]
    result = {"run": str(run), "n_judged": len(judged), "n_null": len(nulls), "fail_alpha": fail_alpha}
    truly = [r["label"] == "memorized" for r in judged]
    t5_calls = [r["verdict"] == "memorized" for r in judged]
    result["t5"] = _scored(t5_calls, judged, truly)
    result["evidence_mix"] = _evidence_mix(judged, nulls)
    for option in OPTIONS:
        called = option_calls(judged, nulls, option, fail_alpha, min_effect)
        if called is None:
            result[option] = {"note": "too few cases with this statistic"}
            continue
        usable, calls, (mu, sd), loo = called
        result[option] = {
            "null_z_mean": mu,
            "null_z_sd": sd,
            **_scored(calls, usable, [r["label"] == "memorized" for r in usable]),
            "null_cases_called_leave_one_out": _share(int(np.sum(loo)), len(loo)),
        }
    return result


def option_calls(
    judged: list[dict], nulls: list[dict], stat: str, fail_alpha: float, min_effect: float
) -> tuple[list[dict], list[bool], tuple[float, float], list[bool]] | None:
    """One option's calls over an audit's judged cases (rows with `z_<stat>` and `share_effect`):
    each z's normal tail under the null cases' z mean and sd, Holm at `fail_alpha`, and for the
    share an effect of at least `min_effect`. Also each null case judged against the others' fit
    at the first Holm step. None when a statistic has no judged case or under 10 null cases."""
    usable = [r for r in judged if f"z_{stat}" in r]
    null_z = np.array([r[f"z_{stat}"] for r in nulls if f"z_{stat}" in r])
    if len(usable) == 0 or null_z.size < 10:
        return None
    mu, sd = float(null_z.mean()), float(null_z.std(ddof=1))
    p = np.array([sps.norm.sf((r[f"z_{stat}"] - mu) / sd) for r in usable])
    big = [stat == "logprob" or r["share_effect"] >= min_effect for r in usable]
    calls = [bool(h < fail_alpha and b) for h, b in zip(holm(p), big)]
    first_step = fail_alpha / len(usable)
    loo = [
        bool(sps.norm.sf((z - np.delete(null_z, i).mean()) / np.delete(null_z, i).std(ddof=1)) < first_step)
        for i, z in enumerate(null_z)
    ]
    return usable, calls, (mu, sd), loo


OPTIONS = ("share", "logprob")  # the statistic each option reads


def _evidence_mix(judged: list[dict], nulls: list[dict]) -> dict:
    """How many judged and null cases have prompts carrying evidence of the group (T5 ranks the
    cases whose prompts do not first; its null is drawn from every flagged non-member), and the mean
    z of each stratum: where the mixes differ, the null is not the cases' null."""
    out = {}
    for name, rows in (("judged", judged), ("null", nulls)):
        for evidence in (False, True):
            z = [r["z_share"] for r in rows if r["evidence"] == evidence]
            key = f"{name}_{'with' if evidence else 'without'}_evidence"
            out[key] = {"n": len(z), "z_share_mean": float(np.mean(z)) if z else None}
    return out


def judge_placebo(run: Path, draw: int) -> dict | None:
    """The options' calls in placebo audit `draw` of the run (None when it was not written): its
    posing members and its null cases, none seen by the audited model or any half-model, each
    against the half-models of side 0 (one of each complementary pair, as for a null case)."""
    from memaudit.groundtruth.placebo import PlaceboDataset, placebo_dir_name
    from memaudit.groundtruth.truth_models import TRUTH_SEED, HalfModel, ask

    audit = run / "audit"
    placebo = audit / placebo_dir_name(draw)
    if not (placebo / "report.json").exists():
        return None
    report = json.loads((audit / "report.json").read_text())
    p_report = json.loads((placebo / "report.json").read_text())
    salt = (placebo / "salt.secret").read_text().strip()
    truth = json.loads((audit / "truth" / "truth.json").read_text())
    dataset = PlaceboDataset(run / "data", report["config"]["splits"]["non_members"], p_report["seed"], draw)
    ctx, items = _cases(run, dataset, p_report, salt)
    t5 = p_report["tests"]["T5"]["metrics"]
    if len(items) != len(t5["cases"]) + len(t5["null_cases"]):
        raise SystemExit(
            f"{placebo}: {len(items)} of its T5 cases found in the placebo's prompts; wrong split?"
        )
    names = [n for n in half_model_names(truth["k"]) if n.endswith("_0")]
    answers = [
        ask(
            HalfModel(audit / "truth" / n, frozenset()),
            items,
            ctx,
            truth["n_samples"],
            report["seed"] * 1000 + TRUTH_SEED,
            audit / "truth" / f"placebo_{draw}_answers_{n}.json",
        )
        for n in names
    ]
    logprobs = _audited_logprobs(run, items)
    audited = {(c["subject"], c["group"], c["tier"]): c for c in t5["cases"] + t5["null_cases"]}
    rows = []
    everyone = np.ones(len(answers), dtype=bool)  # one side's models, none of which saw a placebo case
    for j, item in enumerate(items):
        case = audited[(item["subject"], item["group"], item["tier"])]
        row = {"kind": item["kind"], "verdict": item.get("verdict")}
        row["evidence"] = prompt_evidence(ctx, item["group"], item["tier"], item["subject_id"])
        rows.append(row | _against(answers, j, everyone, case["p_audited"], logprobs[j]))
    judged = [r for r in rows if r["kind"] == "judged"]
    nulls = [r for r in rows if r["kind"] == "null"]
    result = {
        "draw": draw,
        "n_judged": len(judged),
        "n_null": len(nulls),
        "t5": {"calls": sum(r["verdict"] == "memorized" for r in judged)},
    }
    result["evidence_mix"] = _evidence_mix(judged, nulls)
    fail_alpha, min_effect = t5.get("fail_alpha", 0.04), t5.get("min_effect", 0.2)
    for option in OPTIONS:
        called = option_calls(judged, nulls, option, fail_alpha, min_effect)
        result[option] = (
            {"note": "too few cases with this statistic"} if called is None else {"calls": sum(called[1])}
        )
    return result


def false_fails(placebos: list[dict]) -> dict:
    """Per option, the placebo audits with at least one call (a false FAIL) among those it judged."""
    out = {}
    for option in ("t5", *OPTIONS):
        judged = [p[option]["calls"] for p in placebos if "calls" in p[option]]
        out[option] = _share(sum(c > 0 for c in judged), len(judged))
    return out


def _share(k: int, n: int) -> dict:
    lo, hi = clopper_pearson(k, n) if n else (0.0, 1.0)
    return {"k": k, "n": n, "ci95": [lo, hi]}


def _scored(calls: list[bool], rows: list[dict], truly: list[bool]) -> dict:
    """Calls against the half-models' labels: how many, their labels, recall of the memorized."""
    labels = [r["label"] for r, c in zip(rows, calls) if c]
    return {
        "calls": sum(calls),
        "labels_of_calls": {lab: labels.count(lab) for lab in sorted(set(labels), key=str)},
        "precision": _share(sum(lab == "memorized" for lab in labels), len(labels)),
        "recall": _share(sum(c and t for c, t in zip(calls, truly)), sum(truly)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument(
        "--placebo-draws", type=int, default=0, help="placebo audits per run to ask the half-models"
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = [judge(run) for run in args.runs]
    for run, r in zip(args.runs, results):
        placebos = [judge_placebo(run, d) for d in range(args.placebo_draws)]
        r["placebo"] = [p for p in placebos if p is not None]
    for r in results:
        print(f"{r['run']}: {r['n_judged']} judged, {r['n_null']} null cases")
        for option in ("t5", *OPTIONS):
            s = r[option]
            if "calls" not in s:
                print(f"  {option}: {s['note']}")
                continue
            extra = ""
            if "null_cases_called_leave_one_out" in s:
                n = s["null_cases_called_leave_one_out"]
                extra = f"; null cases called (leave one out) {n['k']}/{n['n']}"
            print(
                f"  {option}: {s['calls']} calls {s['labels_of_calls']}, recall "
                f"{s['recall']['k']}/{s['recall']['n']}{extra}"
            )
    if args.placebo_draws:
        placebos = [p for r in results for p in r["placebo"]]
        summary = false_fails(placebos)
        print(f"placebo audits (both arms unseen by every model): {len(placebos)}")
        for option, s in summary.items():
            print(f"  {option}: false FAIL {s['k']}/{s['n']} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]")
        mix = {}
        for key in placebos[0]["evidence_mix"] if placebos else []:
            n = sum(p["evidence_mix"][key]["n"] for p in placebos)
            z = sum(
                p["evidence_mix"][key]["n"] * (p["evidence_mix"][key]["z_share_mean"] or 0) for p in placebos
            )
            mix[key] = {"n": n, "z_share_mean": z / n if n else None}
            print(f"  {key}: {n} cases, mean z (share) {mix[key]['z_share_mean']}")
        results.append({"placebo_false_fail": summary, "placebo_evidence_mix": mix})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
