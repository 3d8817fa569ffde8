"""The audit itself: the tests on the (cached) responses, the report written, the release gate,
the report re-rendered."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ..adapters.base import ModelAdapter, optional
from ..adapters.cache import CachedAdapter
from ..audits.context import AuditContext
from ..audits.registry import Audit, registered
from ..audits.runner import AuditOutcome, run_audits
from ..audits.vocabulary import bin_edges, value_artifacts
from ..cohort.meds_reader import MedsDataset
from ..cohort.stream import StreamRecipe
from ..config import AuditConfig, load_config
from ..errors import UserInputError
from ..fingerprint import hash_files
from ..prompts.requests import AUDITED, REFERENCE
from ..report.html import render_html
from ..report.json_report import build_report, markdown_summary, subject_table
from ..report.schema import validate_report
from ..rundir import RunDir
from ..stability import verdict_stability
from .build import ModelSource, build_adapter, build_reference, prepare
from .coverage import coverage, coverage_table

LEVELS = {"low": 0, "medium": 1, "high": 2}
EXIT_OK, EXIT_GATE = 0, 3


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
    # every sequence the audit sends whole: the sampled arms' and T4's population
    everyone = set(ctx.members + ctx.non_members + ctx.scored_members + ctx.scored_non_members)
    audited = [ctx.codes_of(s) for s in sorted(everyone)]
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
