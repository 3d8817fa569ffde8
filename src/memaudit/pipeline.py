"""The whole audit as one flow, used by the CLI, the Python API and validation alike:

    config = load_config(...)
    adapter = build_adapter(ModelSource(model=...), config)
    with RunDir.open(out) as run_dir:
        ctx = prepare(dataset, config, adapter)
        outcome = run(ctx, adapter, run_dir)
        report = write(outcome, dataset, adapter, run_dir)

`audit(...)` does all of it and applies the release gate.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .adapters.base import ModelAdapter, optional
from .adapters.cache import CachedAdapter
from .audits.context import AuditContext
from .audits.coverage import group_coverage
from .audits.registry import Audit, registered
from .audits.runner import AuditOutcome, run_audits
from .audits.t1_trajectory import greedy_request, sample_request
from .audits.vocabulary import bin_edges, value_artifacts
from .cohort.meds_reader import MedsDataset
from .cohort.stream import StreamRecipe
from .config import AuditConfig, load_config
from .errors import UserInputError
from .fingerprint import hash_files
from .prompts.export import write_prompt_table
from .prompts.prepare import prepare as prepare_cohort
from .prompts.requests import AUDITED, REFERENCE, Embed, Generate, Score
from .report.html import render_html
from .report.json_report import build_report, markdown_summary, subject_table
from .report.schema import validate_report
from .rundir import RunDir
from .stability import verdict_stability
from .tables import first_line, read_table

LEVELS = {"low": 0, "medium": 1, "high": 2}
EXIT_OK, EXIT_GATE = 0, 3


@dataclass(frozen=True)
class ModelSource:
    """Where the audited model comes from: a transformers directory (`model`), a parquet of
    precomputed samples (`generations`), or an adapter object of the user's (`adapter`)."""

    model: Path | None = None
    generations: Path | None = None
    adapter: Any = None
    backend: str = "local"  # local | ray: model calls through Ray Data over model replicas
    ray_address: str | None = None  # with ray: join this cluster (default: start a local one)
    trust_pickle: bool = False  # allow pickle checkpoints (they can run code)

    def describe(self) -> str:
        """What run_log.json records as the model."""
        if self.adapter is not None:
            return type(self.adapter).__name__
        return str(Path(self.generations or self.model or ".").resolve())


def build_adapter(source: ModelSource, config: AuditConfig) -> ModelAdapter:
    """The adapter of the audited model: the one place an adapter is built from options."""
    if source.adapter is not None:
        return source.adapter
    if source.generations is not None:
        from .adapters.generations import GenerationsAdapter

        return GenerationsAdapter(source.generations)
    if source.model is None:
        raise UserInputError("--model MODEL_DIR or --generations FILE", "neither", "pass one of them")
    return _hf(Path(source.model), config, source.trust_pickle, source.backend, source.ray_address)


def build_reference(source: ModelSource, config: AuditConfig) -> ModelAdapter | None:
    """The reference model of config `reference.model`, read with the audited model's
    `model_input` (it was trained on the same tokens), or None."""
    if not config.reference.model:
        return None
    return _hf(Path(config.reference.model), config, source.trust_pickle, "local", None)


def read_unseen_members(path: str | None) -> frozenset[int] | None:
    """Config `reference.unseen_members`: the members the reference model was not trained on."""
    if path is None:
        return None
    expected = "reference.unseen_members: a .parquet or .csv with a subject_id column"
    fix = "write the members the reference model did not see (memaudit train --hold-out writes it)"
    frame = read_table(Path(path), expected, fix, columns=("subject_id",))
    try:
        return frozenset(int(s) for s in frame["subject_id"].to_list())
    except (TypeError, ValueError) as e:  # a null or non-integer id
        raise UserInputError(expected, f"{path}: {first_line(e)}", fix) from None


def _hf(
    path: Path, config: AuditConfig, trust_pickle: bool, backend: str, ray_address: str | None
) -> ModelAdapter:
    model_input = config.model_input.to_dict()
    hw = config.hardware
    if backend == "ray":
        from .adapters.ray_backend import RayAdapter

        return RayAdapter(
            path,
            batch_size=config.generation.batch_size,
            address=ray_address,
            trust_pickle=trust_pickle,
            model_input=model_input,
            dtype=hw.dtype,
        )
    from .adapters.hf import HFAdapter

    return HFAdapter(
        path,
        batch_size=config.generation.batch_size,
        trust_pickle=trust_pickle,
        model_input=model_input,
        device=hw.device,
        dtype=hw.dtype,
        memory_fraction=hw.memory_fraction,
    )


def prepare(
    dataset: MedsDataset,
    config: AuditConfig,
    adapter: ModelAdapter,
    recipe: StreamRecipe | None = None,
    has_reference: bool = False,
) -> AuditContext:
    """The cohort in the model's language, the prompts of every tier and what the audits read."""
    vocabulary = optional(adapter, "vocabulary")()
    knows = vocabulary.knows if vocabulary is not None else None
    cohort = prepare_cohort(dataset, config, recipe or StreamRecipe.from_config(config.cohort), knows)
    embeddings = optional(adapter, "code_embeddings")() if config.t1.embedding == "model" else None
    unseen = None
    if has_reference:
        listed = config.reference.unseen_members
        beside = Path(config.reference.model or ".") / "unseen_members.parquet"
        unseen = read_unseen_members(listed or (str(beside) if beside.exists() else None))
    return AuditContext.build(
        cohort,
        config,
        frozenset(adapter.capabilities()),
        embeddings,
        has_reference,
        knows,
        reference_unseen=unseen,
        mask_token=mask_token(config, vocabulary),
        sequential=config.generation.sequential and bool(optional(adapter, "adaptive")),
    )


def mask_token(config: AuditConfig, vocabulary: Any) -> str | None:
    """The token T4's masked-embedding score masks codes with: model_input.mask_token (default
    [MASK]) when the model knows it, else its unknown token; None when it has neither."""
    wanted = config.model_input.mask_token or "[MASK]"
    if vocabulary is None or vocabulary.knows(wanted):
        return wanted
    return optional(vocabulary, "unknown_token")() if hasattr(vocabulary, "unknown_token") else None


def coverage(ctx: AuditContext, adapter: ModelAdapter, audits: list[Audit] | None = None) -> dict:
    """What the audit can test, before any model call: per sensitive group and per test."""
    caps, adaptive = frozenset(adapter.capabilities()), optional(adapter, "adaptive")
    tests = {}
    for audit_ in audits if audits is not None else registered():
        missing = sorted(audit_.needs - caps)
        if missing:
            tests[audit_.name] = {
                "testable": False,
                "reason": "the model adapter does not offer " + " or ".join(f"`{m}`" for m in missing),
            }
        elif audit_.asks_new_prompts and not adaptive:
            tests[audit_.name] = {
                "testable": False,
                "reason": "the model answers only exported prompts; this test asks new ones",
            }
        else:
            tests[audit_.name] = audit_.coverage(ctx).as_dict()
    return {
        "groups": group_coverage(ctx),
        "tests": tests,
        "conventions": ctx.conventions.describe(),
        "skipped_tiers": dict(ctx.cohort.skipped_tiers),
    }


def run(
    ctx: AuditContext,
    dataset: MedsDataset,
    adapter: ModelAdapter,
    run_dir: RunDir,
    reference: ModelAdapter | None = None,
    audits: list[Audit] | None = None,
    progress: bool = False,
) -> AuditOutcome:
    """Every registered audit on the adapter's (cached) responses, and the model-level findings:
    what could be tested, codes the model does not know, vocabulary tokens that carry a value,
    context windows."""
    audits = audits if audits is not None else registered()
    covered = coverage(ctx, adapter, audits)
    audited = [ctx.timelines[s].codes for s in sorted(ctx.members + ctx.non_members)]
    optional(adapter, "learn")(sorted({c for codes in audited for c in codes}))
    caches = {AUDITED: CachedAdapter(adapter, run_dir.cache)}
    if reference is not None:
        caches[REFERENCE] = CachedAdapter(reference, run_dir.reference_cache)
    try:
        results = run_audits(
            ctx,
            audits,
            caches,
            adaptive=optional(adapter, "adaptive"),
            chunk=ctx.config.generation.batch_size * 8,
            progress=progress,
        )
    except sqlite3.OperationalError as e:
        raise UserInputError(
            "room to write the response cache",
            f"{e} ({run_dir.cache})",
            "free disk space or choose another --out; rerunning resumes from the cache",
        ) from None
    finally:
        for cache in caches.values():
            cache.close()
    vocabulary = optional(adapter, "vocabulary")()
    unknown: dict[str, int] = {}
    artifacts = None
    if vocabulary is not None:
        for timeline in ctx.timelines.values():
            for c in timeline.codes:
                if not vocabulary.knows(c):
                    unknown[c] = unknown.get(c, 0) + 1
        artifacts = vocabulary_check(dataset, ctx, vocabulary.tokens())
    outcome = AuditOutcome(
        ctx,
        results,
        caches[AUDITED].hits,
        caches[AUDITED].misses,
        unknown,
        artifacts,
        optional(adapter, "window_plan")(
            audited,
            [p.codes for prompts in ctx.prompts.values() for p in prompts.values()],
            ctx.config.generation.max_new_codes,
        ),
        covered,
    )
    outcome.stability = verdict_stability(outcome, adapter, reference, run_dir, audits)
    return outcome


def vocabulary_check(dataset: MedsDataset, ctx: AuditContext, tokens: list[str]) -> dict:
    """Bin edges of the vocabulary against the values the members measured (audits/vocabulary.py)."""
    parsed = {t: bin_edges(t) for t in tokens}
    codes = {t for t, p in parsed.items() if p} | {p[0] for p in parsed.values() if p}
    values = dataset.measured_values(codes, dataset.arm_ids(ctx.config.splits.members))
    return value_artifacts(
        tokens, values, ctx.cohort.member_code_subjects, ctx.config.vocabulary_check.min_subjects
    )


def write(
    outcome: AuditOutcome,
    dataset: MedsDataset,
    adapter: ModelAdapter,
    run_dir: RunDir,
    source: ModelSource | None = None,
    include_examples: bool = False,
) -> dict:
    """report.json (validated against the schema), report.html rendered from it alone,
    subjects.parquet and run_log.json."""
    config = outcome.context.config
    salt = run_dir.salt()
    report = build_report(
        outcome, config, salt, hash_files(dataset.files), adapter.fingerprint(), include_examples
    )
    report = json.loads(json.dumps(report, default=str))
    validate_report(report)
    run_dir.write_parquet("subjects.parquet", subject_table(outcome, salt))
    run_dir.write_json("report.json", report)
    run_dir.write_text("report.html", render_html(json.loads((run_dir.path / "report.json").read_text())))
    run_dir.write_json(
        "run_log.json",
        {
            "cache_hits": outcome.cache_hits,
            "cache_misses": outcome.cache_misses,
            "unknown_codes": len(outcome.unknown_codes),
            "model_dir": (source or ModelSource()).describe(),
        },
    )
    return report


def gate(report: dict, fail_on: str | None, accept_incomplete: bool = False) -> tuple[int, str | None]:
    """The release gate: exit 3 when the risk reaches `fail_on`, or when the audit is incomplete
    (something it was meant to test it could not) unless the user accepts that explicitly."""
    if not fail_on:
        return EXIT_OK, None
    level = report["risk"]["level"]
    if not report["risk"]["complete"] and not accept_incomplete:
        return EXIT_GATE, (
            "release gate: the audit is incomplete ("
            + "; ".join(report["risk"]["not_tested"])
            + "): FAILED (exit 3); pass --accept-incomplete to gate on what was tested"
        )
    if LEVELS.get(level, 0) >= LEVELS[fail_on]:
        return EXIT_GATE, f"release gate: risk {level} >= --fail-on {fail_on}: FAILED (exit 3)"
    return EXIT_OK, None


def audit(
    data: Path | MedsDataset,
    source: ModelSource,
    out: Path,
    config: AuditConfig | None = None,
    fail_on: str | None = None,
    include_examples: bool = False,
    progress: bool = True,
    echo: bool = True,
    accept_incomplete: bool = False,
) -> tuple[dict, int]:
    """The whole audit: the report and the exit code (0, or 3 when the release gate fails)."""
    config = config or load_config()
    recipe = StreamRecipe.from_config(config.cohort)  # a bad hook is refused before any model loads
    dataset = data if isinstance(data, MedsDataset) else MedsDataset(Path(data))
    adapter = build_adapter(source, config)
    reference = build_reference(source, config)
    with RunDir.open(out) as run_dir:
        ctx = prepare(dataset, config, adapter, recipe, has_reference=reference is not None)
        if echo:
            print(coverage_table(coverage(ctx, adapter)))
        outcome = run(ctx, dataset, adapter, run_dir, reference, progress=progress)
        report = write(outcome, dataset, adapter, run_dir, source, include_examples)
    if echo:
        for tier, n in report["cohort"]["excluded_per_tier"].items():
            if n:
                print(f"note: tier {tier} excluded {n} subject(s) whose timelines are too short for it")
        print(markdown_summary(report))
    code, message = gate(report, fail_on, accept_incomplete)
    if echo and message:
        print(message)
    return report, code


def check(data: Path, source: ModelSource, config: AuditConfig) -> tuple[dict, str]:
    """The preflight: what the audit would test, codes the model lacks, and the model calls it
    would make, with no model call. Raises UserInputError when the audit could mean nothing."""
    recipe = StreamRecipe.from_config(config.cohort)
    dataset = MedsDataset(Path(data))
    adapter = build_adapter(source, config)
    reference = build_reference(source, config)
    ctx = prepare(dataset, config, adapter, recipe, has_reference=reference is not None)
    covered = coverage(ctx, adapter)
    vocabulary = optional(adapter, "vocabulary")()
    unknown = (
        set()
        if vocabulary is None
        else {c for t in ctx.timelines.values() for c in t.codes if not vocabulary.knows(c)}
    )
    calls = planned_calls(ctx, adapter)
    summary = {"coverage": covered, "unknown_codes": len(unknown), "model_calls": calls}
    if not any(g["status"] == "tested" for g in covered["groups"].values()):
        reasons = "; ".join(f"{g['label']}: {g['reason']}" for g in covered["groups"].values())
        raise UserInputError(
            "at least one sensitive group the cohort's codes match, with positives in both arms",
            f"none ({reasons})",
            "check the codes with `memaudit check`'s table, set conventions (e.g. diagnosis_formats) or "
            "sensitive_groups for your code system",
        )
    text = coverage_table(covered) + (
        f"\ncodes the model does not know: {len(unknown)} distinct"
        f"\nmodel calls before T5: {calls['generate_prompts']} prompts × samples = "
        f"{calls['generated_samples']} "
        f"samples in the first round (sequential rounds add at most {calls['later_rounds_at_most']}), "
        f"{calls['scored_sequences']} scored and {calls['embedded_sequences']} embedded sequences; "
        f"T5 adds at most {calls['t5_samples_at_most']} samples"
    )
    return summary, text


def planned_calls(ctx: AuditContext, adapter: ModelAdapter) -> dict:
    """The distinct model calls of the first wave (T1-T4), what sequential rounds may add, and
    T5's bound."""
    caps = frozenset(adapter.capabilities())
    requests: set = set()
    for audit_ in registered():
        if not audit_.reads and audit_.needs <= caps:
            requests |= set(audit_.requests(ctx, {}))
    generate = [r for r in requests if isinstance(r, Generate)]
    cap = ctx.config.generation.n_samples
    later_rounds = sum(cap - r.n_samples for r in generate if r.n_samples == ctx.first_round(cap) < cap)
    t5 = ctx.config.t5
    per_case = t5.n_samples_original * (2 if ctx.has_reference else 1)
    if not ctx.has_reference:
        per_case += t5.n_samples * (2 * t5.age_steps + 2)
    return {
        "generate_prompts": len(generate),
        "generated_samples": sum(r.n_samples for r in generate),
        "later_rounds_at_most": later_rounds,
        "scored_sequences": sum(isinstance(r, Score) for r in requests),
        "embedded_sequences": sum(isinstance(r, Embed) for r in requests),
        "t5_samples_at_most": (t5.max_cases + t5.n_null) * per_case,
    }


def coverage_table(covered: dict) -> str:
    """The coverage as Markdown, printed before the audit runs and by `memaudit check`."""
    lines = [
        "## What the audit can test",
        "",
        "| sensitive group | codes in stream | with it (members / non-members) | tested at | status |",
        "|---|---|---|---|---|",
    ]
    for g in covered["groups"].values():
        pos = g["positives_anywhere"]
        lines.append(
            f"| {g['label']} | {g['codes_in_stream']} | {pos['member']} / {pos['non_member']} | "
            f"{', '.join(g['tiers_tested']) or '–'} | "
            f"{g['status']}{': ' + g['reason'] if g['reason'] else ''} |"
        )
    lines += ["", "| test | can test | note |", "|---|---|---|"]
    for name, t in covered["tests"].items():
        note = t.get("reason") or ", ".join(
            f"{k}: {v}" for k, v in t.items() if k not in ("testable", "reason")
        )
        lines.append(f"| {name} | {'yes' if t['testable'] else 'no'} | {note} |")
    for tier, why in covered.get("skipped_tiers", {}).items():
        lines.append(f"| tier {tier} | no | {why} |")
    return "\n".join(lines)


def export_prompts(data: Path, config: AuditConfig, out: Path) -> int:
    """The audit's generation requests (what T1, T2 and T6 read) as a table, for a model that runs
    elsewhere; returns the number of distinct prompts. The model's vocabulary is unknown here, so
    `cohort.static_rows: auto` keeps static rows."""
    dataset = MedsDataset(Path(data))
    cohort = prepare_cohort(dataset, config, StreamRecipe.from_config(config.cohort))
    ctx = AuditContext(config, cohort)
    rows = [
        (sid, tier, kind, request)
        for tier, prompts in ctx.prompts.items()
        for sid, p in sorted(prompts.items())
        for kind, request in (
            ("sample", sample_request(ctx, p.codes)),
            ("greedy", greedy_request(ctx, p.codes)),
        )
    ]
    try:
        return write_prompt_table(rows, Path(out))
    except OSError as e:
        from .rundir import write_error

        raise write_error(e, out) or e from None


def rerender(run_dir: Path) -> Path:
    """Re-render report.html from report.json alone."""
    path = Path(run_dir) / "report.json"
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserInputError(
            "a run directory with report.json", f"none in {run_dir}", "run `memaudit audit` first"
        ) from None
    except json.JSONDecodeError as e:
        raise UserInputError("report.json in JSON", f"{e}", "rerun `memaudit audit` to rewrite it") from None
    import jsonschema

    try:
        validate_report(report)
    except jsonschema.ValidationError as e:
        raise UserInputError(
            "report.json that follows the shipped schema",
            e.message[:200],
            "rerun `memaudit audit` with this memaudit version",
        ) from None
    RunDir(Path(run_dir)).write_text("report.html", render_html(report))
    return Path(run_dir) / "report.html"
