"""`memaudit scan`: which training subjects are at risk of being memorized, and why, before any
model is trained (no model needed).

Reads the training split of a MEDS cohort and finds repeated records (records/), patients their
attacker-knowledge prompt singles out, sensitive conditions too rare to hide and value bins that
would disclose a value (knowledge/). Writes scan.json and scan.html into the scan directory,
subjects named only by hashes salted with that directory's secret salt.

The level the gate reads: **high** when the data repeats a record, exactly or as a near copy (the
mechanism of memorization measured by the audit's canaries), **medium** when a sensitive code or a
value bin is held by fewer than k patients or a patient's static knowledge is shared by fewer than k,
**low** otherwise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import meds

from ..cohort.meds_reader import MedsDataset
from ..cohort.near_copies import MIN_NEAR_COPY_EVENTS, clusters, near_copy_pairs
from ..cohort.repeated_records import repeated_groups, repeated_visits, timeline_signatures
from ..cohort.stream import StreamRecipe
from ..config import AuditConfig
from ..report.privacy import subject_hash
from ..rundir import RunDir
from ..version import __version__
from .knowledge import matcher_and_demographics, rare_sensitive, uniqueness, value_bins

SCAN_SCHEMA_VERSION = "1.0.0"
LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class ScanOptions:
    k: int = 5  # an equivalence class or a condition held by fewer patients singles them out
    min_events: int = 5  # timelines shorter than this are not compared as repeated records
    top: int = 100  # subjects listed in the ranking
    split: str | None = None  # the training split (default: config splits.members)
    # records whose code multisets are at least this Jaccard-similar are near copies (None: off)
    near_copy_similarity: float | None = 0.9


def level_of(scan: dict) -> str:
    if scan["repeated_records"]["groups"] or scan["near_copies"]["pairs"]:
        return "high"
    static = scan["uniqueness"].get("static", {}).get("unique", 0)
    if scan["rare_sensitive"]["codes"] or static or scan["value_bins"].get("held_by_fewer_than_k"):
        return "medium"
    return "low"


def run_scan(data: Path, out: Path, config: AuditConfig, options: ScanOptions = ScanOptions()) -> dict:
    """Scan the training split of the MEDS cohort at `data`; write scan.json and scan.html to `out`."""
    from .render import render_scan_html

    started = time.time()
    dataset = MedsDataset(data)
    split = options.split or config.splits.members
    ids = [int(s) for s in dataset.arm_ids(split)]
    recipe = StreamRecipe.from_config(config.cohort)
    birth = recipe.age.birth_code if recipe.age is not None else meds.birth_code
    rows = dataset.rows(ids).collect().lazy()  # read once for the three searches below
    signatures = timeline_signatures(rows, birth)
    groups = repeated_groups(signatures, options.min_events)
    near = (
        near_copy_pairs(rows, birth, options.near_copy_similarity, sequences=signatures)
        if options.near_copy_similarity is not None
        else None
    )
    visits = repeated_visits(rows, birth)
    timelines = dataset.timelines(ids, recipe)
    matcher, is_demographic = matcher_and_demographics(dataset, config, timelines)
    unique = uniqueness(timelines, config, matcher, is_demographic, options.k)
    rare = rare_sensitive(timelines, matcher, options.k)
    bins = value_bins(dataset, recipe, ids, options.k)
    with RunDir.open(out) as run:
        salt = run.salt()
        name = lambda s: subject_hash(salt, s)
        scan = {
            "schema_version": SCAN_SCHEMA_VERSION,
            "memaudit_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": str(Path(data).resolve()),
            "split": split,
            "n_subjects": len(ids),
            "k": options.k,
            "repeated_records": {
                "min_events": options.min_events,
                "groups": [
                    {
                        "size": g["size"],
                        "identical_times": g["identical_times"],
                        "n_events": g["n_events"],
                        "members": [name(s) for s in g["subject_ids"]],
                    }
                    for g in groups
                ],
                "subjects_in_groups": sum(g["size"] for g in groups),
            },
            "near_copies": near_copy_section(near, options.near_copy_similarity, name),
            "repeated_visits": {"subjects": len(visits), "repeats": int(sum(visits.values()))},
            "uniqueness": {
                tier: {
                    "unique": len(u["unique_subjects"]),
                    "share": len(u["unique_subjects"]) / max(len(ids), 1),
                    "classes": u["classes"],
                    "too_short": u["too_short"],
                }
                for tier, u in unique.items()
            },
            "rare_sensitive": {
                "codes": [
                    {
                        "code": r["code"],
                        "groups": r["groups"],
                        "n_subjects": len(r["subject_ids"]),
                        "members": [name(s) for s in r["subject_ids"]],
                    }
                    for r in rare
                ]
            },
            "value_bins": bins,
            "subjects_at_risk": ranked(groups, near, visits, unique, rare, options.top, name),
        }
        scan["level"] = level_of(scan)
        scan["seconds"] = round(time.time() - started, 1)
        run.write_json("scan.json", scan)
        run.write_text("scan.html", render_scan_html(scan))
    return scan


def near_copy_section(pairs, threshold: float | None, name) -> dict:
    """scan.json's near copies: each pair with its similarity (most similar first), by hash."""
    if pairs is None:
        return {"similarity": None, "pairs": [], "note": "off (near_copy_similarity null)"}
    return {
        "similarity": threshold,
        "min_events": MIN_NEAR_COPY_EVENTS,
        "pairs": [
            {"subjects": [name(a), name(b)], "similarity": round(float(sim), 4)}
            for a, b, sim in pairs.iter_rows()
        ],
        "records_linked": len(clusters(pairs)),
    }


def ranked(groups, near, visits, unique, rare, top: int, name) -> list[dict]:
    """The subjects with a reason, most exposed first: the size of their repeated record (exact
    copies, then near copies), then their rare sensitive codes, the tiers that single them out and
    their repeated visits."""
    reasons: dict[int, dict] = {}
    entry = lambda s: reasons.setdefault(
        s, {"copies": 1, "near_copies": 0, "rare_codes": 0, "unique_at": [], "repeated_visits": 0}
    )
    for g in groups:
        for s in g["subject_ids"]:
            entry(s)["copies"] = g["size"]
    for a, b, _ in near.iter_rows() if near is not None else ():
        entry(a)["near_copies"] += 1
        entry(b)["near_copies"] += 1
    for r in rare:
        for s in r["subject_ids"]:
            entry(s)["rare_codes"] += 1
    for tier, u in unique.items():
        for s in u["unique_subjects"]:
            entry(s)["unique_at"].append(tier)
    for s, n in visits.items():
        entry(s)["repeated_visits"] = n
    order = sorted(
        reasons,
        key=lambda s: (
            -reasons[s]["copies"],
            -reasons[s]["near_copies"],
            -reasons[s]["rare_codes"],
            -len(reasons[s]["unique_at"]),
            -reasons[s]["repeated_visits"],
            s,
        ),
    )
    return [{"subject": name(s), **reasons[s]} for s in order[:top]]
