"""Counterfactual truth for T5 (`memaudit validate --truth-models K --run RUN --data DIR`).

A case is memorized when training on the patient changed what the model says about the patient:
E[share | trained with the record] − E[share | trained without it] (Feldman & Zhang 2020; Zhang
et al. 2023). How the generator planted a condition is not that truth, so it is measured: K models
trained with the audited model's recipe on complementary random halves of the member records (K/2
draws, each giving one model the half it drew and one the other half; a record's copies stay
together), so each member record is in exactly K/2 of them.

Every model is asked, for every case T5 judged, every null case and every ×20+ canary whose random
plant lies within the generation horizon of a codes:K prompt: the share of `n_samples` samples at
the case's prompt that contain the removed group, and the teacher-forced log-probability of the
group's first true code after the prompt. Per case, cf = mean over the models that saw the record
− mean over those that did not, with its standard error (the two sides' variances, Student t with
K − 2 degrees of freedom for the 95% interval). Labels, on the share:

- memorized: the interval's lower end above 0 and cf ≥ MIN_SHARE (0.2);
- not memorized: the interval's upper end below MIN_SHARE;
- undetermined: neither.

T5's precision is the share of its memorized calls labelled memorized. Null cases (non-members,
seen by no model) give the per-model spread of a case no model trained on.

Resumable: each half-model is a directory that is reused once written; answers are cached per model
in `truth.json`'s sibling `answers_<model>.json`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import stats as sps

from ..atomic import write_json
from ..audits.stats import clopper_pearson
from ..errors import UserInputError

MIN_SHARE = 0.2  # the smallest difference in share that counts as memorized (T5's min_effect)
TRUTH_SEED = 9173  # the half-models' draws and samples derive from the run's seed and this


@dataclass(frozen=True)
class HalfModel:
    path: Path
    unseen: frozenset[int]  # the member ids it was not trained on


def half_model_name(pair: int, side: int) -> str:
    """The directory of one half-model: side 0 or 1 of complementary draw `pair`."""
    return f"half_{pair}_{side}"


def half_model_names(k: int) -> list[str]:
    """The K half-models' directories in the order `measure` asks them (pair by pair)."""
    return [half_model_name(pair, side) for pair in range(k // 2) for side in (0, 1)]


def train_half_models(
    data: Path, out: Path, k: int, seed: int, epochs: int, options: dict
) -> list[HalfModel]:
    """K models on complementary halves of the member records (module docstring); reused when
    already written."""
    from ..synthetic.trainer import TrainConfig, train_model

    if k < 2 or k % 2:
        raise UserInputError("--truth-models K, an even number of at least 2", str(k), "pass e.g. 16")
    models = []
    for pair in range(k // 2):
        for side in (0, 1):
            path = out / half_model_name(pair, side)
            if not (path / "config.json").exists():
                if path.exists():
                    for f in sorted(path.rglob("*"), reverse=True):
                        f.unlink() if f.is_file() else f.rmdir()
                    path.rmdir()
                cfg = TrainConfig(
                    epochs=epochs,
                    seed=seed * 1000 + 2 * pair + side,
                    hold_out=0.5,
                    hold_out_seed=seed * 1000 + TRUTH_SEED + pair,
                    hold_out_complement=bool(side),
                    **options,
                )
                train_model(data, path, cfg, progress=False)
            unseen = pl.read_parquet(path / "unseen_members.parquet")["subject_id"].to_list()
            models.append(HalfModel(path, frozenset(int(s) for s in unseen)))
    return models


def cases_to_ask(ctx: Any, report: dict, salt: str, truth: pl.DataFrame) -> list[dict]:
    """The judged cases, the null cases and the in-horizon ×20+ canaries, each with its subject
    id, group, tier, prompt and teacher-forced sequence (None when the group is not within the
    horizon after the prompt)."""
    from ..report.privacy import subject_hash

    by_hash = {subject_hash(salt, s): s for s in ctx.members + ctx.non_members}
    metrics = report["tests"]["T5"]["metrics"]
    items = [
        {"kind": "judged", "verdict": c["verdict"], **{k: c[k] for k in ("subject", "group", "tier")}}
        for c in metrics.get("cases", [])
    ]
    items += [
        {"kind": "null", **{k: c[k] for k in ("subject", "group", "tier")}}
        for c in metrics.get("null_cases", [])
    ]
    judged = {(i["subject"], i["group"], i["tier"]) for i in items}
    canaries = truth.filter(pl.col("canary_repetitions") >= 20)
    for row in canaries.iter_rows(named=True):
        for plant in row["planted"] or []:
            if plant["kind"] != "random":
                continue
            for tier in (t for t in ctx.prompts if t.startswith("codes:")):  # prompts that carry the record
                s = row["subject_id"]
                if s in ctx.prompts[tier] and ctx.horizon_labels(plant["group"], tier).get(s):
                    key = (subject_hash(salt, s), plant["group"], tier)
                    if key not in judged:
                        items.append({"kind": "canary", "subject": key[0], "group": key[1], "tier": tier})
    out = []
    for item in items:
        s = by_hash.get(item["subject"])
        if s is None or s not in ctx.prompts.get(item["tier"], {}):
            continue
        prompt = ctx.prompts[item["tier"]][s]
        horizon = prompt.continuation[: ctx.horizon]
        at = next((j for j, c in enumerate(horizon) if ctx.matcher.has_group([c], item["group"])), None)
        teacher = None if at is None else tuple(prompt.codes) + tuple(horizon[: at + 1])
        out.append({**item, "subject_id": s, "prompt": tuple(prompt.codes), "teacher": teacher})
    return out


def ask(model: HalfModel, items: list[dict], ctx: Any, n_samples: int, seed: int, cache: Path) -> dict:
    """One model's share and teacher-forced log-probability per item (cached in `cache`)."""
    from ..adapters.hf import HFAdapter

    if cache.exists():
        return json.loads(cache.read_text())
    adapter = HFAdapter(model.path)
    g = ctx.config.generation
    prompts = sorted({i["prompt"] for i in items})
    samples = adapter.generate(prompts, n_samples, g.max_new_codes, g.temperature, g.top_p, seed)
    by_prompt = dict(zip(prompts, samples))
    shares = [
        float(np.mean([ctx.matcher.has_group(x, i["group"]) for x in by_prompt[i["prompt"]]])) for i in items
    ]
    teachers = [i["teacher"] for i in items if i["teacher"] is not None]
    scored = dict(zip(teachers, adapter.score(teachers))) if teachers else {}
    logprobs = [None if i["teacher"] is None else float(scored[i["teacher"]].logprobs[-1]) for i in items]
    answers = {"shares": shares, "logprobs": logprobs}
    write_json(cache, answers)
    return answers


def counterfactual(values: np.ndarray, seen: np.ndarray) -> tuple[float, float, float, float]:
    """cf = mean over the models that saw the record − mean over those that did not, its standard
    error and 95% interval (Student t, K − 2 degrees of freedom). values, seen: (K,)."""
    inside, outside = values[seen], values[~seen]
    if inside.size < 2 or outside.size < 2:
        return float("nan"), float("nan"), float("nan"), float("nan")
    cf = float(inside.mean() - outside.mean())
    se = float(np.sqrt(inside.var(ddof=1) / inside.size + outside.var(ddof=1) / outside.size))
    half = float(sps.t.ppf(0.975, values.size - 2)) * se
    return cf, se, cf - half, cf + half


def label(cf: float, low: float, high: float) -> str:
    if not np.isfinite(cf):
        return "undetermined"
    if low > 0 and cf >= MIN_SHARE:
        return "memorized"
    return "not memorized" if high < MIN_SHARE else "undetermined"


def measure(
    run: Path, data: Path, k: int, epochs: int = 12, options: dict | None = None, n_samples: int = 50
) -> dict:
    """Train (or reuse) the K half-models beside the audit run, ask them, label every case, and
    write RUN/truth/truth.json with T5's precision and recall against the labels."""
    from ..cohort.meds_reader import MedsDataset
    from ..config import load_config
    from ..pipeline import ModelSource, build_adapter, prepare

    report_path = run / "report.json"
    if not report_path.exists():
        raise UserInputError(
            "a finished audit run directory (report.json)", f"none in {run}", "run the audit first"
        )
    if not (data / "ground_truth.parquet").exists():
        raise UserInputError(
            "the synthetic cohort the run audited (ground_truth.parquet)", f"none in {data}", "pass --data"
        )
    started = time.perf_counter()
    report = json.loads(report_path.read_text())
    if report["tests"]["T5"]["metrics"].get("mode") != "counterfactual":
        raise UserInputError(
            "an audit with a reference model (T5's counterfactual contrast)",
            "T5 without one",
            "audit with --reference-model",
        )
    salt = (run / "salt.secret").read_text().strip()
    config = load_config(overrides=report["config"])
    log = json.loads((run / "run_log.json").read_text())
    dataset = MedsDataset(data)
    ctx = prepare(dataset, config, build_adapter(ModelSource(model=Path(log["model_dir"])), config))
    truth = pl.read_parquet(data / "ground_truth.parquet")
    items = cases_to_ask(ctx, report, salt, truth)
    out = run / "truth"
    out.mkdir(exist_ok=True)
    models = train_half_models(data, out, k, report["seed"], epochs, options or {})
    trained = time.perf_counter()
    answers = [
        ask(m, items, ctx, n_samples, report["seed"] * 1000 + TRUTH_SEED, out / f"answers_{m.path.name}.json")
        for m in models
    ]
    asked = time.perf_counter()
    member_set = set(ctx.members)
    rows = []
    for j, item in enumerate(items):
        seen = np.array(
            [item["subject_id"] in member_set and item["subject_id"] not in m.unseen for m in models]
        )
        shares = np.array([a["shares"][j] for a in answers])
        row = {k_: item[k_] for k_ in ("kind", "subject", "group", "tier")} | {"verdict": item.get("verdict")}
        row["models_that_saw_it"] = int(seen.sum())
        row["share_sd_across_models"] = float(shares.std(ddof=1))
        if seen.any():
            cf, se, low, high = counterfactual(shares, seen)
            row.update(cf_share=cf, cf_share_se=se, cf_share_ci95=[low, high], label=label(cf, low, high))
            if item["teacher"] is not None:
                lp = np.array([a["logprobs"][j] for a in answers])
                cf_lp, se_lp, lo_lp, hi_lp = counterfactual(lp, seen)
                row.update(cf_logprob=cf_lp, cf_logprob_se=se_lp, cf_logprob_ci95=[lo_lp, hi_lp])
        rows.append(row)
    result = {
        "k": k,
        "n_samples": n_samples,
        "epochs": epochs,
        "min_share": MIN_SHARE,
        "cases": rows,
        **summarise(rows),
        "seconds": {"train": round(trained - started, 1), "ask": round(asked - trained, 1)},
    }
    write_json(out / "truth.json", result)
    return result


def _share(k: int, n: int) -> dict:
    lo, hi = clopper_pearson(k, n) if n else (0.0, 1.0)
    return {"k": k, "n": n, "share": k / n if n else None, "ci95": [lo, hi]}


def summarise(rows: list[dict]) -> dict:
    """T5's precision and recall against the labels, the labels of its calls, and the null's spread."""
    judged = [r for r in rows if r["kind"] == "judged" and "label" in r]
    called = [r for r in judged if r["verdict"] == "memorized"]
    truly = [r for r in judged if r["label"] == "memorized"]
    nulls = [r["share_sd_across_models"] for r in rows if r["kind"] == "null"]
    return {
        "t5_precision": _share(sum(r["label"] == "memorized" for r in called), len(called)),
        "t5_recall": _share(sum(r["verdict"] == "memorized" for r in truly), len(truly)),
        "labels_of_memorized_calls": [r["label"] for r in called],
        "labels_by_kind": {
            kind: dict(
                sorted(
                    {
                        lab: sum(1 for r in rows if r["kind"] == kind and r.get("label") == lab)
                        for lab in ("memorized", "not memorized", "undetermined")
                    }.items()
                )
            )
            for kind in ("judged", "canary")
        },
        "null_share_sd_across_models_median": float(np.median(nulls)) if nulls else None,
    }
