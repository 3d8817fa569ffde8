"""The model adapters and the prepared context: what an audit reads before any model call."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..adapters.base import ModelAdapter, optional
from ..audits.context import AuditContext
from ..cohort.meds_reader import MedsDataset
from ..cohort.stream import StreamRecipe
from ..config import AuditConfig
from ..config.sections import ALL_UNSEEN
from ..errors import UserInputError
from ..prompts.prepare import prepare as prepare_cohort
from ..tables import first_line, read_table


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
        from ..adapters.generations import GenerationsAdapter

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
    stack = stack_of(path)
    if stack == "cehrgpt-imported":
        from ..adapters.stacks.cehrgpt import CehrGptAdapter

        return CehrGptAdapter(path, batch_size=config.generation.batch_size)
    if stack == "cehrgpt":
        raise UserInputError(
            "a CEHR-GPT model imported for the audit (memaudit import-cehrgpt)",
            f"{path}, CEHR-GPT's own output directory",
            "run memaudit import-cehrgpt --runner-config PRETRAIN.yaml --out DIR, then --model DIR",
        )
    if backend == "ray":
        from ..adapters.ray_backend import RayAdapter

        return RayAdapter(
            path,
            batch_size=config.generation.batch_size,
            address=ray_address,
            trust_pickle=trust_pickle,
            model_input=model_input,
            dtype=hw.dtype,
        )
    from ..adapters.hf import HFAdapter

    return HFAdapter(
        path,
        batch_size=config.generation.batch_size,
        trust_pickle=trust_pickle,
        model_input=model_input,
        device=hw.device,
        dtype=hw.dtype,
        memory_fraction=hw.memory_fraction,
    )


def stack_of(path: Path) -> str | None:
    """`cehrgpt-imported` for an import-cehrgpt directory, `cehrgpt` for CEHR-GPT's own output
    directory (config.json model_type cehrgpt), None for any other directory."""
    from ..adapters.stacks.cehrgpt import IMPORT_FILE

    if (path / IMPORT_FILE).is_file():
        return "cehrgpt-imported"
    config = path / "config.json"
    try:
        return "cehrgpt" if json.loads(config.read_text()).get("model_type") == "cehrgpt" else None
    except (OSError, ValueError):
        return None


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
    recipe = recipe or StreamRecipe.from_config(config.cohort)
    stack_streams = optional(adapter, "stream_table")()
    if recipe.table is None and stack_streams is not None:
        recipe = replace(recipe, table=stack_streams)
    cohort = prepare_cohort(dataset, config, recipe, knows, optional(adapter, "stream_structure")())
    embeddings = optional(adapter, "code_embeddings")() if config.t1.embedding == "model" else None
    unseen = None
    if has_reference:
        listed = config.reference.unseen_members
        beside = Path(config.reference.model or ".") / "unseen_members.parquet"
        if listed != ALL_UNSEEN:
            unseen = read_unseen_members(listed or (str(beside) if beside.exists() else None))
        if unseen is not None:
            unseen = unseen_records(unseen, cohort.record_copies, cohort.stream.get("repeated_records"))
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


def unseen_records(
    unseen: frozenset[int], record_copies: dict[int, tuple[int, ...]], note: dict | None
) -> frozenset[int]:
    """The unseen members whose record the reference never saw under any id: a member held out
    while a copy of its record was trained on is not unseen. How many were so dropped goes in
    `note` (the report's repeated-records paragraph)."""
    split = {s for s in unseen if any(c not in unseen for c in record_copies.get(s, ()))}
    if note is not None:
        note["unseen_members_whose_copy_the_reference_saw"] = len(split)
    return unseen - split


def mask_token(config: AuditConfig, vocabulary: Any) -> str | None:
    """The token T4's masked-embedding score masks codes with: model_input.mask_token (default
    [MASK]) when the model knows it, else its unknown token; None when it has neither."""
    wanted = config.model_input.mask_token or "[MASK]"
    if vocabulary is None or vocabulary.knows(wanted):
        return wanted
    return optional(vocabulary, "unknown_token")() if hasattr(vocabulary, "unknown_token") else None
