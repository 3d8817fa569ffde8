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
from .audits.registry import Audit, registered
from .audits.runner import AuditOutcome, run_audits
from .audits.t1_trajectory import greedy_request, sample_request
from .audits.vocabulary import numeric_artifacts
from .cohort.meds_reader import MedsDataset
from .cohort.stream import StreamRecipe
from .config import AuditConfig, load_config
from .errors import UserInputError
from .fingerprint import hash_files
from .prompts.export import write_prompt_table
from .prompts.prepare import prepare as prepare_cohort
from .prompts.requests import AUDITED, REFERENCE
from .report.html import render_html
from .report.json_report import build_report, markdown_summary, subject_table
from .report.schema import validate_report
from .rundir import RunDir

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
    """The reference model of config `t4.reference_model`, read with the audited model's
    `model_input` (it was trained on the same tokens), or None."""
    if not config.t4.reference_model:
        return None
    return _hf(Path(config.t4.reference_model), config, source.trust_pickle, "local", None)


def _hf(
    path: Path, config: AuditConfig, trust_pickle: bool, backend: str, ray_address: str | None
) -> ModelAdapter:
    model_input = config.model_input.to_dict()
    if backend == "ray":
        from .adapters.ray_backend import RayAdapter

        return RayAdapter(
            path,
            batch_size=config.generation.batch_size,
            address=ray_address,
            trust_pickle=trust_pickle,
            model_input=model_input,
        )
    from .adapters.hf import HFAdapter

    return HFAdapter(
        path, batch_size=config.generation.batch_size, trust_pickle=trust_pickle, model_input=model_input
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
    cohort = prepare_cohort(
        dataset,
        config,
        recipe or StreamRecipe.from_config(config.cohort),
        vocabulary.knows if vocabulary is not None else None,
    )
    embeddings = optional(adapter, "code_embeddings")() if config.t1.embedding == "model" else None
    return AuditContext.build(cohort, config, frozenset(adapter.capabilities()), embeddings, has_reference)


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
    codes the model does not know, vocabulary tokens that carry a value, context windows."""
    audited = [ctx.timelines[s].codes for s in sorted(ctx.members + ctx.non_members)]
    optional(adapter, "learn")(sorted({c for codes in audited for c in codes}))
    caches = {AUDITED: CachedAdapter(adapter, run_dir.cache)}
    if reference is not None:
        caches[REFERENCE] = CachedAdapter(reference, run_dir.reference_cache)
    try:
        results = run_audits(
            ctx,
            audits if audits is not None else registered(),
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
        counts = dataset.code_subject_counts(dataset.arm_ids(ctx.config.splits.members))
        artifacts = numeric_artifacts(vocabulary.tokens(), counts, ctx.config.vocabulary_check.min_subjects)
    return AuditOutcome(
        ctx,
        results,
        caches[AUDITED].hits,
        caches[AUDITED].misses,
        unknown,
        artifacts,
        optional(adapter, "window_plan")(audited),
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


def audit(
    data: Path | MedsDataset,
    source: ModelSource,
    out: Path,
    config: AuditConfig | None = None,
    fail_on: str | None = None,
    include_examples: bool = False,
    progress: bool = True,
    echo: bool = True,
) -> tuple[dict, int]:
    """The whole audit: the report and the exit code (0, or 3 when the release gate fails)."""
    config = config or load_config()
    recipe = StreamRecipe.from_config(config.cohort)  # a bad hook is refused before any model loads
    dataset = data if isinstance(data, MedsDataset) else MedsDataset(Path(data))
    adapter = build_adapter(source, config)
    reference = build_reference(source, config)
    with RunDir.open(out) as run_dir:
        ctx = prepare(dataset, config, adapter, recipe, has_reference=reference is not None)
        outcome = run(ctx, dataset, adapter, run_dir, reference, progress=progress)
        report = write(outcome, dataset, adapter, run_dir, source, include_examples)
    if echo:
        for tier, n in report["cohort"]["excluded_per_tier"].items():
            if n:
                print(f"note: tier {tier} excluded {n} subject(s) whose timelines are too short for it")
        print(markdown_summary(report))
    code = EXIT_OK
    if fail_on and LEVELS[report["risk"]["level"]] >= LEVELS[fail_on]:
        if echo:
            print(f"release gate: risk {report['risk']['level']} >= --fail-on {fail_on}: FAILED (exit 3)")
        code = EXIT_GATE
    return report, code


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
