"""`memaudit validate --repeat N`: the release gate measured as a gate, over independent trainings.

One claim per audit ("this model memorized something") has an error rate per audit, and one
training is one draw of it. Each run of a scenario writes a new cohort (data seed) and trains the
audited and reference models (training seed) from seed `index`, audits, runs the placebo audit and
scores both against the planted truth. Runs live in `DIR/<scenario>/run_<index>/`; a run whose
`run.json` exists is reused, so N can grow over several invocations and a killed one loses only
the run it was in. `DIR/repeats.json` is recomputed from every finished run each time.

Scenarios:
- `seen_once`: every member seen once, conditions planted by pattern only (no canary, no random
  plant). Nothing is repeated; what T5 calls memorized here is what training on a patient seen
  once per epoch did (Feldman's long tail), true or not only against counterfactual truth. The
  false FAILs of the gate are counted in its placebo audits (both arms unseen by both models).
- `memorizing`: the validation cohort (canaries repeated 1×, 5×, 20×, 50× with their random plant
  within the generation horizon). The gate should say high.
- `demo`: `memaudit demo`'s recipe at seed `index` (how often the demo's verdict is what it is).
- `few_records`, `few_records_dp8`, `few_records_dp1`: a handful of records the data repeats (5 ×20,
  5 ×50) among members seen once, trained plain and with DP-SGD at ε 8 and 1. The gate's false LOW
  is measured here: low while the ground truth identifies a repeated record at 1% FPR.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..atomic import write_json
from ..errors import UserInputError
from .placebo import placebo_dir_name
from .repeats_summary import placebo_audits_of, summarise
from .score import ground_truth_by_hash


@dataclass(frozen=True)
class Scenario:
    """A recipe: the synthetic cohort, the training and the audit's configuration overrides."""

    description: str
    synth: dict[str, Any]
    audit: dict[str, Any] = field(default_factory=dict)
    epochs: int = 12
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig options of the audited model


# the repeated runs measure the gate over trainings: the per-audit stability figure is left out
# (statistics.stability_resamples 0) to keep a run at a few minutes
LIGHT_AUDIT = {
    "tiers": ["none", "static", "codes:10", "codes:20"],
    "statistics": {"stability_resamples": 0},
}
SCENARIOS = {
    "seen_once": Scenario(
        "every member seen once, conditions planted by pattern only: nothing repeated",
        {"n_subjects": 1000, "canaries_per_repetition": 0, "random_plant_rate": 0.0},
        LIGHT_AUDIT,
    ),
    "memorizing": Scenario(
        "canaries repeated 1×, 5×, 20×, 50× (20 each), random plants within the horizon",
        {"n_subjects": 1000, "canaries_per_repetition": 20, "canary_plant_window": (12, 30)},
        {**LIGHT_AUDIT, "subjects_per_arm": None, "generation": {"max_new_codes": 48}},
    ),
    "demo": Scenario("`memaudit demo`'s recipe", {"n_subjects": 2000}),
}
# a handful of records the data repeats among members seen once: where a gate reading an average
# over all members says LOW while the repeated records leak (trained plain, and with DP-SGD)
FEW_RECORDS = {"n_subjects": 1000, "canary_repetitions": (20, 50), "canaries_per_repetition": 5}
FEW_RECORDS_AUDIT = {**LIGHT_AUDIT, "subjects_per_arm": None}
SCENARIOS |= {
    "few_records": Scenario(
        "5 records written 20 times and 5 written 50 times among members seen once; trained plain",
        FEW_RECORDS,
        FEW_RECORDS_AUDIT,
    ),
    "few_records_dp8": Scenario(
        "few_records trained with DP-SGD at epsilon 8",
        FEW_RECORDS,
        FEW_RECORDS_AUDIT,
        train={"dp_epsilon": 8.0},
    ),
    "few_records_dp1": Scenario(
        "few_records trained with DP-SGD at epsilon 1",
        FEW_RECORDS,
        FEW_RECORDS_AUDIT,
        train={"dp_epsilon": 1.0},
    ),
}
TRUTH_FPR = 0.01  # a repeated record is identified when its score passes the non-members' 1% FPR threshold
REFERENCE_HOLD_OUT = 0.5


def run_one(
    scenario: str,
    index: int,
    run_dir: Path,
    progress: bool = False,
    catalogue: dict | None = None,
    placebo_draws: int = 1,
) -> dict:
    """One independent training and audit of `scenario` (from `catalogue`, default SCENARIOS) at
    seed `index`, with `placebo_draws` placebo audits of its model; returns run.json. A finished
    run is reused; asked for more placebo draws than it has, it adds them while its cohort and
    model are kept (`--keep`)."""
    from ..config import load_config
    from ..pipeline import ModelSource, audit
    from ..synthetic.cohort import SynthConfig, write_cohort
    from ..synthetic.trainer import TrainConfig, train_model
    from .validate import placebo_verdict, validate

    spec = (catalogue or SCENARIOS)[scenario]
    done = run_dir / "run.json"
    data, model, reference = run_dir / "data", run_dir / "model", run_dir / "reference_model"
    if done.exists():
        finished = json.loads(done.read_text())
        if len(placebo_audits_of(finished)) >= placebo_draws or not (model / "config.json").exists():
            return finished
        start = time.perf_counter()
        validation = validate(data, run_dir / "audit", model, progress, placebo_draws=placebo_draws)
        finished["placebo_draws"] = validation["placebo_draws"]
        finished["seconds"]["more_placebo_draws"] = round(time.perf_counter() - start, 1)
        write_json(done, finished)
        return finished
    run_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    def stage(name: str, finished: Path, make: Any) -> None:
        if finished.exists():
            return
        partial = finished.parent if finished.name in ("config.json", "ground_truth.parquet") else None
        if partial is not None and partial.exists():
            shutil.rmtree(partial)  # a stage killed halfway is redone from scratch
        start = time.perf_counter()
        make()
        seconds[name] = round(time.perf_counter() - start, 1)

    stage(
        "synth",
        data / "ground_truth.parquet",
        lambda: write_cohort(data, SynthConfig(**spec.synth, seed=index), progress=progress),
    )
    stage(
        "train",
        model / "config.json",
        lambda: train_model(
            data, model, TrainConfig(epochs=spec.epochs, seed=index, **spec.train), progress=progress
        ),
    )
    stage(
        "reference",
        reference / "config.json",
        lambda: train_model(
            data,
            reference,
            TrainConfig(epochs=spec.epochs, seed=index, hold_out=REFERENCE_HOLD_OUT, **spec.train),
            progress=progress,
        ),
    )
    config = load_config(overrides={**spec.audit, "seed": index, "reference": {"model": str(reference)}})
    stage(
        "audit",
        run_dir / "audit" / "report.json",
        lambda: audit(
            data, ModelSource(model=model), run_dir / "audit", config, progress=progress, echo=False
        ),
    )
    start = time.perf_counter()
    validation = validate(data, run_dir / "audit", model, progress, placebo_draws=placebo_draws)
    seconds["placebo_and_scoring"] = round(time.perf_counter() - start, 1)
    report = json.loads((run_dir / "audit" / "report.json").read_text())
    placebo = json.loads((run_dir / "audit" / placebo_dir_name(0) / "report.json").read_text())
    salt = (run_dir / "audit" / "salt.secret").read_text().strip()
    truth = ground_truth_by_hash(pl.read_parquet(data / "ground_truth.parquet"), salt)
    result = {
        "scenario": scenario,
        "index": index,
        "seed": index,
        "seconds": seconds,
        "risk_level": report["risk"]["level"],
        "gate": gate_rule(report),
        "statuses": {name: t["status"] for name, t in report["tests"].items()},
        "t5": t5_summary(report, truth),
        "gaps": gap_summary(report),
        # the first placebo audit in full (a T5 that judged no case tested nothing), with its gaps
        "placebo": {**placebo_verdict(placebo), "gaps": gap_summary(placebo)},
        "placebo_draws": validation["placebo_draws"],
        "power_by_repeats": validation["power_by_repeats"],
        "repeated_records": repeated_truth(
            report, pl.read_parquet(run_dir / "audit" / "subjects.parquet"), truth
        ),
        "stability": report["risk"].get("stability"),
    }
    write_json(done, result)
    return result


def repeated_truth(report: dict, subjects: pl.DataFrame, truth: pl.DataFrame) -> dict:
    """What the repeated records truly leak, from the ground truth: how many of the audited
    records that the data repeats (canaries written 2 times or more) pass the non-members' 1% FPR
    threshold of the loss score (the plain attack, fixed in advance), beside what T4's arm said.
    A run whose gate reads low while one is identified is a false LOW."""
    rows = subjects.join(truth.select("subject", "canary_repetitions"), on="subject", how="left")
    non = rows.filter(pl.col("arm") == "non_member")["t4_loss"].drop_nulls().to_numpy()
    repeated = rows.filter((pl.col("arm") == "member") & (pl.col("canary_repetitions") >= 2))
    threshold = float(np.quantile(non, 1 - TRUTH_FPR)) if non.size else float("inf")
    identified = int((repeated["t4_loss"].drop_nulls().to_numpy() > threshold).sum())
    arm = report["tests"]["T4"]["metrics"].get("repeated_records", {})
    return {
        "audited": repeated.height,
        "identified_at_1pct_fpr": identified,
        "non_members": int(non.size),
        "arm_status": arm.get("status"),
        "arm_outcome": arm.get("outcome"),
        "arm_records": arm.get("n_records", 0),
        "arm_line": arm.get("line"),
        "false_low": report["risk"]["level"] == "low" and identified > 0,
    }


def gate_rule(report: dict) -> str:
    """How the audit's FAIL was decided: the gate's alpha and T5's share of it, or the rule before
    the gate's alpha was spent across tests (each test at its own level)."""
    risk = report["config"]["risk"]
    if "gate_alpha" not in risk:
        return "each test at its own level"
    return f"gate_alpha {risk['gate_alpha']:g}, T5 share {risk['gate_t5_share']:g}"


def gap_summary(report: dict) -> dict[str, list[dict]]:
    """T2's and T3's tested gaps with their p-values (for judging the gate's rule on them later)."""
    keys = ("auroc_gap", "auroc_gap_p", "auroc_gap_q", "auroc_gap_holm_p", "significant", "fails")
    out = {}
    for name in ("T2", "T3"):
        by_group = report["tests"].get(name, {}).get("metrics", {}).get("by_group", {})
        out[name] = [
            {"group": group, "tier": tier, **{k: entry.get(k) for k in keys}}
            for group, g in by_group.items()
            for tier, entry in g.get("by_tier", {}).items()
            if "auroc_gap_p" in entry
        ]
    return out


def t5_summary(report: dict, truth: pl.DataFrame) -> dict:
    """T5's verdicts beside the planted truth of each case, and what other decision rules would
    have called memorized on the same cases (for choosing the rule by measurement)."""
    metrics = report["tests"]["T5"]["metrics"]
    kind, repeats = {}, {}
    for row in truth.select("subject", "planted", "canary_repetitions").iter_rows(named=True):
        repeats[row["subject"]] = row["canary_repetitions"] or 0
        for p in row["planted"] or []:
            kind[(row["subject"], p["group"])] = p["kind"]
    cases = []
    for c in metrics.get("cases", []):
        k = kind.get((c["subject"], c["group"]), "not planted")
        r = repeats.get(c["subject"], 0)
        cases.append(
            {
                "truth": "canary_20_plus" if k == "random" and r >= 20 else k if r < 1 else f"{k}_x{r}",
                "verdict": c["verdict"],
                **{key: c.get(key) for key in ("p_value_normal", "p_value_student_t", "p_value_empirical")},
                "z": c.get("z"),
                "effect": None if c.get("p_reference") is None else c["p_audited"] - c["p_reference"],
            }
        )
    tail = metrics.get("null_tail", {})
    return {
        "status": report["tests"]["T5"]["status"],
        "counts": metrics.get("counts", {}),
        "n_null": metrics.get("n_null"),
        "null_z_quantile": metrics.get("null_z_quantile"),
        "p_value_from": tail.get("p_value_from"),
        "tail_df": tail.get("student_t", {}).get("df"),
        "tail_check": {
            model: tail["check"][model]["holds"] for model in ("normal", "student_t") if "check" in tail
        },
        "cases": cases,
        "min_effect": metrics.get("min_effect"),
        "alpha": metrics.get("alpha"),
        "fail_alpha": metrics.get("fail_alpha", metrics.get("alpha")),
    }


def aggregate(out: Path, catalogue: dict | None = None) -> dict:
    """repeats.json from every finished run under `out`."""
    catalogue = catalogue or SCENARIOS
    scenarios = {}
    for name in catalogue:
        found = sorted((out / name).glob("run_*/run.json"), key=lambda p: int(p.parent.name.split("_")[1]))
        if found:
            scenarios[name] = {
                "description": catalogue[name].description,
                **summarise([json.loads(p.read_text()) for p in found]),
            }
    result = {"scenarios": scenarios}
    write_json(out / "repeats.json", result)
    return result


def repeat(
    out: Path,
    n: int,
    scenarios: list[str],
    start: int = 0,
    progress: bool = False,
    keep: bool = False,
    catalogue: dict | None = None,
    placebo_draws: int = 1,
) -> dict:
    """Runs `start` … `start + n − 1` of each scenario (finished ones reused), then aggregates.
    Unless `keep`, a finished run's cohort, models and caches are deleted (run.json and the
    reports stay). `catalogue` maps scenario names to recipes (default SCENARIOS);
    `placebo_draws` placebo audits of each model (cheap beside a training)."""
    catalogue = catalogue or SCENARIOS
    unknown = [s for s in scenarios if s not in catalogue]
    if unknown or not scenarios:
        raise UserInputError(
            f"--scenario among {', '.join(catalogue)}",
            ", ".join(unknown) or "none",
            "pick scenarios from that list",
        )
    out = Path(out)
    for index in range(start, start + n):
        for name in scenarios:
            run_dir = out / name / f"run_{index}"
            result = run_one(name, index, run_dir, progress, catalogue, placebo_draws)
            if not keep:
                for heavy in ("data", "model", "reference_model"):
                    shutil.rmtree(run_dir / heavy, ignore_errors=True)
                for cache in run_dir.glob("audit/**/cache*.sqlite"):
                    cache.unlink()
            print(
                f"{name} run {index}: risk {result['risk_level']}, T5 {result['t5']['status']} "
                f"({result['t5']['counts'].get('memorized', 0)} memorized), "
                f"{sum(result['seconds'].values()):.0f}s",
                flush=True,
            )
            aggregate(out, catalogue)
    return aggregate(out, catalogue)
