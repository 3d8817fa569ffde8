"""`memaudit compare RUN_A RUN_B`: two audits side by side (a release candidate against the last
release, or a model before and after a safeguard), and a gate on B being worse than A.

Runs are comparable when they audited the same cohort (the data fingerprint in report.json) under
the same audit settings (the config minus its seed, hardware and batch size); otherwise compare
refuses, saying which differs. Each measure (compare/measures.py) is differenced B − A with a
bootstrap interval, paired when the runs audited the same subjects (`--data` lets compare map each
run's salted hashes back to the cohort's subjects), independent otherwise, and the report says which.

The gate: B is **worse** on a measure when B − A exceeds a pre-registered `margin` (0.05 on the
AUROC and gap scales: a difference a privacy officer would act on, not sampling noise) and the
one-sided p-value of exceeding it, Holm-adjusted across all the measures compared, is below
`alpha` (family-wise: two audits of one model fail it at most `alpha` of the time, whatever the
number of measures). Risk levels and the counts the tests publish (T5's memorized cases …) are
shown beside, not gated on (a level
can move by chance).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import polars as pl

from ..audits.registry import registered
from ..audits.stats import holm
from ..cohort.meds_reader import MedsDataset
from ..errors import UserInputError
from ..report.privacy import subject_hash
from ..report.schema import validate_report
from ..rundir import SALT_FILE, RunDir
from ..tables import first_line
from ..version import __version__
from .measures import difference, measures

IGNORED_CONFIG = ("seed", "hardware")


@dataclass(frozen=True)
class CompareOptions:
    alpha: float = 0.05
    margin: float = 0.05
    n_boot: int = 1000
    confidence: float = 0.95
    seed: int = 0


def _read_run(path: Path) -> tuple[dict, pl.DataFrame, str]:
    report_file, subjects_file, salt_file = path / "report.json", path / "subjects.parquet", path / SALT_FILE
    if not (report_file.is_file() and subjects_file.is_file()):
        raise UserInputError(
            "an audit run directory (report.json, subjects.parquet)",
            f"{path} without them",
            "pass directories written by memaudit audit",
        )
    salt = salt_file.read_text().strip() if salt_file.is_file() else ""
    try:
        report = json.loads(report_file.read_text())
        validate_report(report)
        subjects = pl.read_parquet(subjects_file)
    except (ValueError, jsonschema.ValidationError, pl.exceptions.PolarsError) as e:
        raise UserInputError(
            "an audit run directory whose report.json and subjects.parquet memaudit audit wrote",
            f"{path}: {(e.message if isinstance(e, jsonschema.ValidationError) else first_line(e))[:200]}",
            "rerun memaudit audit into that directory",
        ) from None
    return report, subjects, salt


def _settings(report: dict) -> dict:
    config = {k: v for k, v in report["config"].items() if k not in IGNORED_CONFIG}
    config["generation"] = {k: v for k, v in config.get("generation", {}).items() if k != "batch_size"}
    return config


def check_comparable(a: dict, b: dict) -> None:
    if a["inputs"]["data"] != b["inputs"]["data"]:
        raise UserInputError(
            "two audits of the same cohort",
            f"data fingerprints {a['inputs']['data']} and {b['inputs']['data']}",
            "audit both models on the same MEDS cohort",
        )
    va, vb = ({name: t.get("version", "unversioned") for name, t in r["tests"].items()} for r in (a, b))
    changed = sorted(n for n in set(va) & set(vb) if va[n] != vb[n])
    if changed:
        raise UserInputError(
            "two audits whose tests decide by the same rules",
            "different versions of " + ", ".join(f"{n} ({va[n]} and {vb[n]})" for n in changed),
            "rerun the older audit with this memaudit version",
        )
    sa, sb = _settings(a), _settings(b)
    differing = sorted(k for k in set(sa) | set(sb) if sa.get(k) != sb.get(k))
    if differing:
        raise UserInputError(
            "two audits under the same settings (seed, hardware and batch size may differ)",
            f"different {', '.join(differing)}",
            "rerun one audit with the other's config",
        )


def pair(frame: pl.DataFrame, salt: str, ids: list[int]) -> pl.DataFrame:
    """The frame with `key` = the subject id its salted hash stands for (subjects not in `ids`
    dropped)."""
    lookup = pl.DataFrame({"subject": [subject_hash(salt, s) for s in ids], "key": ids})
    return frame.join(lookup, on="subject", how="inner")


def run_compare(run_a: Path, run_b: Path, out: Path, data: Path | None, options: CompareOptions) -> dict:
    from .render import render_compare_html, render_compare_markdown

    (ra, fa, salt_a), (rb, fb, salt_b) = _read_run(Path(run_a)), _read_run(Path(run_b))
    check_comparable(ra, rb)
    paired = False
    if data is not None:
        ids = [int(s) for s in MedsDataset(data).subject_splits()["subject_id"].to_list()]
        pa_, pb_ = pair(fa, salt_a, ids), pair(fb, salt_b, ids)
        common = set(pa_["key"].to_list()) & set(pb_["key"].to_list())
        paired = len(common) >= 0.5 * min(fa.height, fb.height)
        if paired:
            fa, fb = (
                pa_.filter(pl.col("key").is_in(list(common))),
                pb_.filter(pl.col("key").is_in(list(common))),
            )
    table = measures(fa, fb)
    # Holm over M measures needs p-values below alpha / M: a bootstrap of B resamples cannot give
    # one below 1 / (B + 1), so B grows with M
    n_boot = max(options.n_boot, math.ceil(10 * len(table) / options.alpha))
    rows = {
        name: difference(m, fa, fb, paired, n_boot, options.confidence, options.seed + i, options.margin)
        for i, (name, m) in enumerate(table.items())
    }
    adjusted = holm([r["p_worse"] for r in rows.values()])
    for r, h in zip(rows.values(), adjusted):
        r["holm_p"] = float(h)
        r["worse"] = bool(h < options.alpha and r["difference"] > options.margin)
    comparison = {
        "memaudit_version": __version__,
        "run_a": str(Path(run_a).resolve()),
        "run_b": str(Path(run_b).resolve()),
        "design": "paired" if paired else "independent",
        "alpha": options.alpha,
        "margin": options.margin,
        "bootstrap_resamples": n_boot,
        "confidence": options.confidence,
        "risk": {"a": ra["risk"]["level"], "b": rb["risk"]["level"]},
        "counts": _counts(ra, rb),
        "measures": rows,
        "regression": any(r["worse"] for r in rows.values()),
    }
    with RunDir.open(out) as run:
        run.write_json("compare.json", comparison)
        run.write_text("compare.html", render_compare_html(comparison))
        run.write_text("compare.md", render_compare_markdown(comparison))
    return comparison


def _counts(a: dict, b: dict) -> dict[str, dict[str, float | None]]:
    """The counts the tests publish (`Audit.headline`, not rates: T5's cases at each verdict, the
    repeated records …), A beside B, by label; a count one report lacks is null there."""
    by_label: dict[str, dict[str, float | None]] = {}
    for audit in registered():
        for side, report in (("a", a), ("b", b)):
            if audit.name not in report["tests"]:
                continue
            for h in audit.headline(report):
                if not h.rate:
                    by_label.setdefault(h.label, {"a": None, "b": None})[side] = h.value
    return by_label
