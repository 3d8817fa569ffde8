"""Tools for testing with memaudit: `check_adapter`, a conformance check any backend can run
before it audits a model; `make_context` and `ScriptedAdapter`, which run an audit on answers
the test writes (planted leak rates, planted losses), without a trained model."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import meds
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .adapters.base import EMBED, GENERATE, SCORE, ScoreResult, sample_seed
from .audits.context import AuditContext

PROMPTS = [
    ["SEX//F", "AGE//70-74"],
    ["SEX//M", "AGE//30-34", "LAB//SODIUM//NORMAL"],
    ["SEX//F", "AGE//70-74"],
]


def check_adapter(adapter, n_samples: int = 4, max_new_codes: int = 6, seed: int = 0) -> list[str]:
    """Exercise every capability the adapter declares; return the checks that passed or raise
    AssertionError saying which contract was broken."""
    passed = []
    caps = frozenset(adapter.capabilities())
    assert caps and caps <= {GENERATE, SCORE, EMBED}, (
        f"capabilities() must be a non-empty subset of generate/score/embed, got {caps}"
    )
    fp = adapter.fingerprint()
    assert isinstance(fp, str) and fp and fp == adapter.fingerprint(), (
        "fingerprint() must be a stable non-empty string"
    )
    passed.append("capabilities and fingerprint")
    if GENERATE in caps:
        out = adapter.generate(PROMPTS, n_samples, max_new_codes, 1.0, 1.0, seed)
        assert len(out) == len(PROMPTS), "generate must return one entry per prompt, in order"
        assert all(len(s) == n_samples for s in out), "generate must return n_samples samples per prompt"
        assert all(isinstance(c, str) for s in out for x in s for c in x), (
            "samples must be lists of code strings"
        )
        assert all(len(x) <= max_new_codes for s in out for x in s), "samples must respect max_new_codes"
        again = adapter.generate(PROMPTS[1:2], n_samples, max_new_codes, 1.0, 1.0, seed)
        assert again[0] == out[1], (
            "a prompt's samples must depend on (seed, prompt, index) only, not on its batch"
        )
        assert out[0] == out[2], "equal prompts must get equal samples under one seed"
        passed.append("generate: order, counts, lengths, seeding independent of batching")
        if "first_sample" in inspect.signature(adapter.generate).parameters:
            later = adapter.generate(
                PROMPTS[:2], 2, max_new_codes, 1.0, 1.0, seed, first_sample=n_samples - 2
            )
            assert [s[-2:] for s in out[:2]] == later, (
                "generate(..., first_sample=i) must return samples i, i+1, ... of the full draw (sequential "
                "sampling extends earlier rounds)"
            )
            passed.append("generate: a later round extends the earlier samples")
    seqs = [p + ["LAB//SODIUM//NORMAL"] for p in PROMPTS]
    if SCORE in caps:
        res = adapter.score(seqs)
        assert len(res) == len(seqs), "score must return one result per sequence, in order"
        for r, s in zip(res, seqs):
            assert r.logprobs.shape == (len(s),), "score must give one log-probability per code"
            assert np.all(np.isfinite(r.logprobs)) and np.all(r.logprobs <= 1e-6), (
                "log-probabilities must be finite and <= 0"
            )
            assert r.mean.shape == r.std.shape == r.logprobs.shape, "mean and std must align with logprobs"
        np.testing.assert_allclose(
            adapter.score(seqs[1:2])[0].logprobs,
            res[1].logprobs,
            atol=1e-4,
            err_msg="score must not depend on the batch",
        )
        passed.append("score: shapes, finite log-probabilities, batch independence")
    if EMBED in caps:
        emb = np.asarray(adapter.embed(seqs))
        assert emb.ndim == 2 and emb.shape[0] == len(seqs), "embed must return an (n, d) array"
        assert np.all(np.isfinite(emb)), "embeddings must be finite"
        np.testing.assert_allclose(emb[0], emb[2], atol=1e-4, err_msg="equal sequences must embed equally")
        passed.append("embed: shape, finite, deterministic")
    return passed


# --- audits on planted answers, without a trained model ---------------------------------------

FILLER = "LAB//SODIUM//NORMAL"  # what a scripted sample says when it leaks nothing
MEMBER_SPLIT, NON_MEMBER_SPLIT = "train", "held_out"


def write_meds(
    out: Path,
    timelines: Mapping[int, Sequence[str]],
    members: Sequence[int],
    births: Mapping[int, datetime] | None = None,
    static_rows: Mapping[int, Sequence[str]] | None = None,
) -> Path:
    """A real MEDS dataset (the `meds` package's schemas) holding `timelines`: one event a day from
    2020-01-01 per code, `members` in the train split and everyone else in held_out; a subject in
    `static_rows` gets those codes as static rows (time null) and one in `births` a
    `meds.birth_code` row at that time, both before its events."""
    out = Path(out)
    births, static_rows = births or {}, static_rows or {}
    rows = [
        row
        for s in sorted(timelines)
        for row in [(s, None, c) for c in static_rows.get(s, ())]
        + ([(s, births[s], meds.birth_code)] if s in births else [])
        + [(s, datetime(2020, 1, 1) + timedelta(days=i), c) for i, c in enumerate(timelines[s])]
    ]
    member_set = set(members)
    for split in (MEMBER_SPLIT, NON_MEMBER_SPLIT):
        part = [r for r in rows if (r[0] in member_set) == (split == MEMBER_SPLIT)]
        table = pa.table(
            {
                "subject_id": pa.array([r[0] for r in part], pa.int64()),
                "time": pa.array([r[1] for r in part], pa.timestamp("us")),
                "code": pa.array([r[2] for r in part], pa.string()),
                "numeric_value": pa.array([None] * len(part), pa.float32()),
            }
        )
        meds.DataSchema.validate(table)
        (out / "data" / split).mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out / "data" / split / "0.parquet")
    (out / Path(meds.subject_splits_filepath).parent).mkdir(parents=True, exist_ok=True)
    splits = pa.table(
        {
            "subject_id": pa.array(sorted(timelines), pa.int64()),
            "split": pa.array(
                [MEMBER_SPLIT if s in member_set else NON_MEMBER_SPLIT for s in sorted(timelines)],
                pa.string(),
            ),
        }
    )
    meds.SubjectSplitSchema.validate(splits)
    pq.write_table(splits, out / meds.subject_splits_filepath)
    codes = sorted({c for t in timelines.values() for c in t})
    code_table = pa.table(
        {
            "code": pa.array(codes, pa.string()),
            "description": pa.array([None] * len(codes), pa.string()),
            "parent_codes": pa.array([[] for _ in codes], pa.list_(pa.string())),
        }
    )
    meds.CodeMetadataSchema.validate(code_table)
    pq.write_table(code_table, out / meds.code_metadata_filepath)
    (out / meds.dataset_metadata_filepath).write_text(json.dumps({"dataset_name": "memaudit-testing"}))
    return out


class ScriptedAdapter:
    """A model whose answers the test writes: a test of an audit's decisions without training.

    leaks: subject -> {code: rate}: each sample of that subject's prompts holds the code with
    probability `rate` (greedy decoding: when rate ≥ 0.5); losses: subject -> mean negative
    log-probability of its timeline's codes (default `base_loss`); embeddings carry no signal.
    A prompt several subjects share (the `none` tier) belongs to none of them and leaks nothing.
    Samples are seeded by (seed, prompt, index) like any adapter (`check_adapter` passes)."""

    def __init__(
        self,
        ctx: AuditContext,
        leaks: Mapping[int, Mapping[str, float]] | None = None,
        losses: Mapping[int, float] | None = None,
        base_loss: float = 3.0,
    ) -> None:
        self.leaks, self.losses, self.base_loss = dict(leaks or {}), dict(losses or {}), base_loss
        owners: dict[tuple[str, ...], set[int]] = {}
        for prompts in ctx.prompts.values():
            for s, p in prompts.items():
                owners.setdefault(tuple(p.codes), set()).add(s)
        self.prompt_owner = {codes: next(iter(s)) for codes, s in owners.items() if len(s) == 1}
        self.timeline_owner = {tuple(t.codes): s for s, t in ctx.timelines.items()}

    def capabilities(self) -> frozenset[str]:
        return frozenset({GENERATE, SCORE, EMBED})

    def fingerprint(self) -> str:
        blob = json.dumps(
            [
                sorted((s, sorted(r.items())) for s, r in self.leaks.items()),
                sorted(self.losses.items()),
                self.base_loss,
            ]
        )
        return "scripted-" + hashlib.sha256(blob.encode()).hexdigest()[:16]

    def generate(self, prompts, n_samples, max_new_codes, temperature, top_p, seed, first_sample=0):
        out = []
        for prompt in prompts:
            rates = self.leaks.get(self.prompt_owner.get(tuple(prompt)), {})
            samples = []
            for j in range(first_sample, first_sample + n_samples):
                draw = np.random.default_rng(sample_seed(seed, prompt, j)).random(max(len(rates), 1))
                leaked = [
                    c
                    for (c, r), u in zip(sorted(rates.items()), draw)
                    if (r >= 0.5 if temperature == 0 else u < r)
                ]
                samples.append((leaked + [FILLER] * max_new_codes)[:max_new_codes])
            out.append(samples)
        return out

    def score(self, sequences):
        out = []
        for seq in sequences:
            loss = self.losses.get(self.timeline_owner.get(tuple(seq)), self.base_loss)
            n = len(seq)
            out.append(ScoreResult(np.full(n, -loss), np.full(n, -self.base_loss), np.ones(n)))
        return out

    def embed(self, sequences):
        return np.stack(
            [
                np.random.default_rng(
                    int(hashlib.sha256("\x1f".join(s).encode()).hexdigest()[:8], 16)
                ).normal(size=8)
                for s in sequences
            ]
        )


class _KnowsEveryCode:
    """What prepare() asks of the model before any call: its capabilities (a scripted model has
    them all, and no vocabulary that could lack a code)."""

    def capabilities(self) -> frozenset[str]:
        return frozenset({GENERATE, SCORE, EMBED})


def make_context(
    out: Path,
    timelines: Mapping[int, Sequence[str]],
    members: Sequence[int],
    overrides: Mapping | None = None,
    births: Mapping[int, datetime] | None = None,
    static_rows: Mapping[int, Sequence[str]] | None = None,
) -> AuditContext:
    """The context an audit reads, prepared by the audit's own code from a MEDS dataset written
    to `out` (`write_meds`, with `births` and `static_rows`): every subject audited (subjects whose
    hand-written timelines happen to coincide too: splits.repeated_records keep), `overrides` over
    the default config."""
    from .cohort.meds_reader import MedsDataset
    from .config import load_config
    from .pipeline import prepare

    config = load_config(
        overrides={
            "splits": {"members": MEMBER_SPLIT, "non_members": NON_MEMBER_SPLIT, "repeated_records": "keep"},
            "subjects_per_arm": None,
            **(overrides or {}),
        }
    )

    return prepare(
        MedsDataset(write_meds(out, timelines, members, births, static_rows)), config, _KnowsEveryCode()
    )


def run_scripted(ctx: AuditContext, adapter: ScriptedAdapter, names: Sequence[str] | None = None) -> dict:
    """The registered audits (or those named) on the scripted model's answers: name -> TestResult."""
    from .audits.registry import registered
    from .audits.runner import run_audits
    from .prompts.requests import AUDITED

    audits = [a for a in registered() if names is None or a.name in names]
    return run_audits(ctx, audits, {AUDITED: adapter})


def check_audit(name: str, ctx: AuditContext, adapter: ScriptedAdapter) -> list[str]:
    """The contract every registered audit keeps, checked on a scripted model: it reads only
    tests that exist, returns a result under its own name and title with a status of the Status
    enum, the same result twice from the same answers (no hidden state, no randomness of its
    own), JSON-serialisable metrics, and per-subject values only for audited subjects. Returns
    the checks that passed or raises AssertionError naming the broken one."""
    from .audits.registry import registered
    from .audits.result import Status

    audits = {a.name: a for a in registered()}
    audit = audits[name]
    assert set(audit.reads) <= set(audits), f"{name} reads {sorted(set(audit.reads) - set(audits))}"
    needed = [n for n in audits if n in audit.reads] + [name]
    first, again = run_scripted(ctx, adapter, needed)[name], run_scripted(ctx, adapter, needed)[name]
    assert (first.name, first.title) == (audit.name, audit.title), "the result must carry the test's name"
    assert first.status in set(Status), f"status {first.status!r} is not one of {[s.value for s in Status]}"
    assert isinstance(first.summary, str) and first.summary, "the summary must be a sentence"
    passed = ["reads, name, status, summary"]
    dump = lambda r: json.dumps([r.status, r.summary, r.metrics, r.per_subject], sort_keys=True, default=str)
    assert dump(first) == dump(again), f"{name} gave two results from the same answers"
    passed.append("deterministic")
    json.dumps(first.metrics, default=float)
    passed.append("metrics serialise")
    audited = set(ctx.members) | set(ctx.non_members)
    for column, values in first.per_subject.items():
        assert set(values) <= audited, f"per-subject column {column} names subjects outside the audit"
    passed.append("per-subject values of audited subjects only")
    return passed
