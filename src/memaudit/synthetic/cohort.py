"""`memaudit synth`: a clinically shaped synthetic MEDS cohort with planted ground truth.

Subjects are generated one at a time from their own seeded generator, so a cohort of any size
streams to disk shard by shard in bounded memory, and the same seed gives the same cohort
whatever the shard size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_dir
from ..cohort.sensitive import GroupMatcher, build_groups
from ..config import AuditConfig
from ..errors import UserInputError
from ..progress import progress_bar
from . import clinical as cl
from .meds_writer import DATA_SCHEMA, validate_table, write_metadata

SPLIT_PROBS = {"train": 0.6, "tuning": 0.1, "held_out": 0.3}
STYLES = ("memaudit", "mimic")
EPOCH = datetime(2015, 1, 1)


@dataclass(frozen=True)
class SynthConfig:
    n_subjects: int = 2000
    seed: int = 0
    canary_repetitions: tuple[int, ...] = (1, 5, 20, 50)
    canaries_per_repetition: int = 10
    random_plant_rate: float = 0.03  # per sensitive group, share of subjects planted at random
    rare_rate: float = 0.15
    rare_pool_size: int = 400
    max_codes: int = 256
    shard_size: int = 10_000
    style: str = (
        "memaudit"  # memaudit: memaudit's own codes; mimic: MIMIC-IV MEDS conventions (synthetic/mimic.py)
    )
    # clinical-code positions [low, high) a canary's random plant is moved to (None: late in the
    # timeline, like the other plants); (12, 30) lies within the generation horizon of codes:10/20
    canary_plant_window: tuple[int, int] | None = None
    # True: a ×r canary is written r times into the training split (r - 1 copies under new subject
    # ids, as merged or re-registered records appear in real extracts; ground truth's copy_of
    # links them) and the built-in trainer trains on the data as it is; the audit counts the
    # copies as one patient. False: each record is written once and the trainer repeats canaries
    # from the ground truth.
    repetitions_in_data: bool = True

    def validate(self) -> None:
        if self.n_subjects < 20:
            raise UserInputError(
                "--subjects of at least 20", str(self.n_subjects), "pass --subjects 20 or more"
            )
        if any(r < 1 for r in self.canary_repetitions):
            raise UserInputError(
                "canary repetitions of at least 1",
                str(self.canary_repetitions),
                "use positive repetition counts such as 1,5,20,50",
            )
        n_canaries = len(self.canary_repetitions) * self.canaries_per_repetition
        if n_canaries > 0.3 * self.n_subjects:
            raise UserInputError(
                f"at most 30% of subjects as canaries ({int(0.3 * self.n_subjects)})",
                f"{n_canaries} canaries",
                "raise --subjects or lower --canaries-per-repetition",
            )
        if self.style not in STYLES:
            raise UserInputError(f"--style one of {', '.join(STYLES)}", repr(self.style), "pick one of them")
        if self.canaries_per_repetition < 0:
            raise UserInputError(
                "--canaries-per-repetition >= 0",
                str(self.canaries_per_repetition),
                "pass a non-negative count",
            )


@dataclass
class Subject:
    subject_id: int
    split: str
    age: float
    events: list[tuple[datetime, str, float | None]] = field(default_factory=list)
    canary_repetitions: int = 0
    planted: list[tuple[str, str]] = field(default_factory=list)  # (group, "random" | "pattern")


def rare_pool(size: int, seed: int) -> tuple[str, ...]:
    import simple_icd_10_cm as icd

    leaves = sorted(
        c
        for c in icd.get_all_codes(with_dots=True)
        if icd.is_leaf(c) and c.startswith(cl.RARE_CHAPTER_PREFIXES)
    )
    rng = np.random.default_rng([seed, 7])
    return tuple(sorted(rng.choice(leaves, size=min(size, len(leaves)), replace=False).tolist()))


def _sample_age(rng: np.random.Generator) -> float:
    if rng.random() < 0.15:
        return float(rng.uniform(80, 100))
    return float(18 + rng.beta(2.0, 2.2) * 70)


def _lab_value(rng: np.random.Generator, name: str, level: str) -> float:
    low, high = cl.LAB_REFERENCE[name]
    span = high - low or 1.0
    if level == "HIGH":
        return float(high + rng.uniform(0.05, 1.0) * span)
    if level == "LOW":
        return float(max(0.0, low - rng.uniform(0.05, 0.5) * span))
    return float(rng.uniform(low, high))


def _cluster_prob(c: cl.Cluster, age: float) -> float:
    odds = c.base_rate / (1 - c.base_rate) * c.age_slope ** ((age - 50) / 10)
    return odds / (1 + odds)


def generate_subject(
    index: int, subject_id: int, split: str, cfg: SynthConfig, rare: Sequence[str], canary_r: int
) -> Subject:
    rng = np.random.default_rng([cfg.seed, 1, index])
    age = _sample_age(rng)
    subj = Subject(subject_id, split, age, canary_repetitions=canary_r)
    clusters = [c for c in cl.CLUSTERS if rng.random() < _cluster_prob(c, age)]
    conditions = {
        c.name: rng.choice(
            c.diagnoses, size=rng.integers(1, min(3, len(c.diagnoses)) + 1), replace=False
        ).tolist()
        for c in clusters
    }
    meds = {
        c.name: rng.choice(c.medications, size=rng.integers(1, 3), replace=False).tolist() for c in clusters
    }
    for c in clusters:
        for group in _groups_of_cluster(c):
            subj.planted.append((group, "pattern"))

    n_visits = int(min(30, 3 + rng.poisson(7 + 3 * len(clusters))))
    visits: list[list[tuple[str, float | None]]] = []
    for v in range(n_visits):
        codes: list[tuple[str, float | None]] = []
        if rng.random() < 0.3:
            codes.append((cl.dx(str(rng.choice(cl.BACKGROUND_DIAGNOSES))), None))
        for name in rng.choice(cl.BACKGROUND_LABS, size=rng.integers(1, 4), replace=False):
            codes.append((cl.lab(str(name), "NORMAL"), _lab_value(rng, str(name), "NORMAL")))
        for c in clusters:
            if v > 0 and rng.random() > 0.7:
                continue
            for d in conditions[c.name][: 1 + int(rng.random() < 0.4)]:
                codes.append((cl.dx(d), None))
            name, level = c.labs[rng.integers(len(c.labs))]
            level = level if rng.random() < 0.75 else "NORMAL"
            codes.append((cl.lab(name, level), _lab_value(rng, name, level)))
            if rng.random() < 0.7:
                codes.append((cl.med(str(rng.choice(meds[c.name]))), None))
            if rng.random() < 0.25:
                codes.append((cl.proc(str(rng.choice(c.procedures))), None))
        visits.append(codes)

    def insert_late(code: str) -> None:
        v = int(rng.integers(max(1, n_visits // 2), n_visits)) if n_visits > 1 else 0
        visits[v].insert(int(rng.integers(0, len(visits[v]) + 1)), (code, None))

    if rng.random() < cfg.rare_rate:
        insert_late(cl.dx(str(rng.choice(rare))))
    already = {g for g, _ in subj.planted}
    for group, plant_codes in cl.RANDOM_PLANT_CODES.items():
        if group not in already and rng.random() < cfg.random_plant_rate:
            insert_late(cl.dx(str(rng.choice(plant_codes))))
            subj.planted.append((group, "random"))
            already.add(group)
    if canary_r:
        for code in rng.choice(rare, size=3, replace=False):
            insert_late(cl.dx(str(code)))
        free = [g for g in cl.RANDOM_PLANT_CODES if g not in already]
        if free:
            group = free[index % len(free)]
            canary_plant = cl.dx(str(rng.choice(cl.RANDOM_PLANT_CODES[group])))
            insert_late(canary_plant)
            subj.planted.append((group, "random"))

    t = EPOCH + timedelta(days=float(rng.uniform(0, 5 * 365)))
    subj.events.append((t, "SEX//" + ("F" if rng.random() < 0.52 else "M"), None))
    subj.events.append((t, cl.age_band(age), None))
    for v, codes in enumerate(visits):
        if v > 0:
            low, high = cl.TIME_BINS[int(rng.choice(len(cl.TIME_BINS), p=[0.1, 0.2, 0.3, 0.2, 0.12, 0.08]))][
                1:
            ]
            t = t + timedelta(days=float(rng.uniform(low, high)), minutes=int(rng.integers(0, 600)))
            subj.events.append((t, cl.time_bin((t - subj.events[-1][0]).total_seconds() / 86400), None))
        for j, (code, value) in enumerate(codes):
            subj.events.append((t + timedelta(minutes=j), code, value))
    if canary_r and cfg.canary_plant_window and "canary_plant" in locals():
        _place(
            subj.events, canary_plant, cfg.canary_plant_window, np.random.default_rng([cfg.seed, 3, index])
        )
    del subj.events[cfg.max_codes :]
    present = {code for _, code, _ in subj.events}
    subj.planted = [(g, k) for g, k in subj.planted if any(_in_group(g, c) for c in present)]
    return subj


def _place(
    events: list[tuple[datetime, str, float | None]],
    code: str,
    window: tuple[int, int],
    rng: np.random.Generator,
) -> None:
    """Move the event with `code` to a clinical-code position drawn from `window`, at the time of
    the event it then precedes (times stay ordered); a timeline too short for the window keeps the
    event where it was."""
    at = next(i for i, e in enumerate(events) if e[1] == code)
    others = events[:at] + events[at + 1 :]
    clinical = [i for i, e in enumerate(others) if not e[1].startswith(("SEX//", "AGE//", "TIME//"))]
    low, high = window[0], min(window[1], len(clinical))
    if low >= high:
        return
    event = events.pop(at)
    position = clinical[int(rng.integers(low, high))]
    events.insert(position, (events[position][0], code, event[2]))


def _groups_of_cluster(c: cl.Cluster) -> list[str]:
    return sorted({g for d in c.diagnoses for g in cl.RANDOM_PLANT_CODES if _in_group(g, cl.dx(d))})


def _in_group(group: str, code: str) -> bool:
    return _default_matcher().has_group([code], group)


@lru_cache(maxsize=1)
def _default_matcher() -> GroupMatcher:
    return GroupMatcher(build_groups(AuditConfig().sensitive_groups))


def _assign(cfg: SynthConfig) -> tuple[np.ndarray, list[str], dict[int, int]]:
    rng = np.random.default_rng([cfg.seed, 0])
    ids = rng.choice(
        np.arange(1_000_000, 1_000_000 + 50 * cfg.n_subjects), size=cfg.n_subjects, replace=False
    )
    splits = rng.choice(list(SPLIT_PROBS), size=cfg.n_subjects, p=list(SPLIT_PROBS.values())).tolist()
    train_idx = [i for i, s in enumerate(splits) if s == "train"]
    n_can = len(cfg.canary_repetitions) * cfg.canaries_per_repetition
    chosen = rng.choice(train_idx, size=n_can, replace=False).tolist() if n_can else []
    canary = {int(i): cfg.canary_repetitions[k // cfg.canaries_per_repetition] for k, i in enumerate(chosen)}
    return ids.astype(np.int64), splits, canary


def iter_subjects(cfg: SynthConfig) -> Iterator[Subject]:
    ids, splits, canary = _assign(cfg)
    rare = rare_pool(cfg.rare_pool_size, cfg.seed)
    for i in range(cfg.n_subjects):
        yield generate_subject(i, int(ids[i]), splits[i], cfg, rare, canary.get(i, 0))


def _events_table(subjects: list[Subject], style: str) -> pa.Table:
    from .mimic import convert

    subjects = sorted(subjects, key=lambda s: s.subject_id)
    sid, time, code, value = [], [], [], []
    for s in subjects:
        for t, c, v in convert(s.events, s.age) if style == "mimic" else s.events:
            sid.append(s.subject_id), time.append(t), code.append(c), value.append(v)
    return pa.table(
        {
            "subject_id": pa.array(sid, pa.int64()),
            "time": pa.array(time, pa.timestamp("us")),
            "code": pa.array(code, pa.string()),
            "numeric_value": pa.array(value, pa.float32()),
        },
        schema=DATA_SCHEMA,
    )


GROUND_TRUTH_SCHEMA = pa.schema(
    [
        ("subject_id", pa.int64()),
        ("split", pa.string()),
        ("age", pa.float32()),
        ("canary_repetitions", pa.int32()),
        ("planted", pa.list_(pa.struct([("group", pa.string()), ("kind", pa.string())]))),
        ("copy_of", pa.int64()),  # the subject a copy repeats (repetitions_in_data), else null
    ]
)


def with_copies(subjects: Iterator[Subject], cfg: SynthConfig) -> Iterator[tuple[Subject, int | None]]:
    """Each subject with None, then (repetitions_in_data) a ×r canary's r - 1 copies with the
    subject they copy; copy ids follow the range `_assign` draws from."""
    next_id = 1_000_000 + 50 * cfg.n_subjects
    for subj in subjects:
        yield subj, None
        if cfg.repetitions_in_data and subj.canary_repetitions > 1:
            for _ in range(subj.canary_repetitions - 1):
                yield replace(subj, subject_id=next_id), subj.subject_id
                next_id += 1


def write_cohort(out: Path, cfg: SynthConfig, progress: bool = True) -> dict[str, int]:
    from .mimic import convert

    """Write the cohort to `out` atomically; returns subject counts per split."""
    cfg.validate()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UserInputError(
            "an empty or new output directory",
            f"{out} (not empty)",
            "choose a new --out or delete the directory",
        )
    counts = {s: 0 for s in SPLIT_PROBS}
    codes_seen: set[str] = set()
    with atomic_dir(out) as tmp:
        gt_writer = pq.ParquetWriter(tmp / "ground_truth.parquet", GROUND_TRUTH_SCHEMA)
        split_rows: list[tuple[int, str]] = []
        buffer: list[Subject] = []
        shard = 0

        def flush() -> None:
            nonlocal shard
            for split in SPLIT_PROBS:
                part = [s for s in buffer if s.split == split]
                if part:
                    table = _events_table(part, cfg.style)
                    validate_table(table)
                    (tmp / "data" / split).mkdir(parents=True, exist_ok=True)
                    pq.write_table(table, tmp / "data" / split / f"{shard}.parquet")
            gt_writer.write_table(
                pa.Table.from_pylist(
                    [
                        {
                            "subject_id": s.subject_id,
                            "split": s.split,
                            "age": s.age,
                            "canary_repetitions": s.canary_repetitions,
                            "planted": [{"group": g, "kind": k} for g, k in s.planted],
                            "copy_of": copies.get(s.subject_id),
                        }
                        for s in buffer
                    ],
                    schema=GROUND_TRUTH_SCHEMA,
                )
            )
            shard += 1
            buffer.clear()

        bar = progress_bar(progress, total=cfg.n_subjects, desc="synth", unit="subj")
        copies: dict[int, int] = {}
        for subj, copy_of in with_copies(iter_subjects(cfg), cfg):
            if copy_of is None:
                bar.update(1)
            else:
                copies[subj.subject_id] = copy_of
            buffer.append(subj)
            counts[subj.split] += 1
            split_rows.append((subj.subject_id, subj.split))
            events = convert(subj.events, subj.age) if cfg.style == "mimic" else subj.events
            codes_seen.update(c for _, c, _ in events)
            if len(buffer) >= cfg.shard_size:
                flush()
        if buffer:
            flush()
        bar.close()
        gt_writer.close()
        write_metadata(
            tmp,
            sorted(codes_seen),
            split_rows,
            dataset_name=f"memaudit-synthetic-{cfg.style}",
            extra={
                "seed": cfg.seed,
                "n_subjects": cfg.n_subjects,
                "canary_repetitions": list(cfg.canary_repetitions),
                "style": cfg.style,
            },
        )
        (tmp / "README.txt").write_text(
            "Synthetic MEDS cohort written by `memaudit synth`. ground_truth.parquet records canaries and\n"
            "planted sensitive conditions; the audit never reads it, `memaudit validate` does.\n"
            f"Settings: {json.dumps(cfg.__dict__, default=list)}\n"
        )
    return counts
