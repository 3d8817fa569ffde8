"""`memaudit prompts`: the exact generation requests of an audit, for a model run elsewhere."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..adapters.base import GENERATE
from ..adapters.generations import prompt_hash
from ..atomic import atomic_path
from ..audits import t1_trajectory
from ..audits.runner import prepare_context
from ..cohort.meds_reader import MedsDataset
from ..config import AuditConfig


def export_prompts(dataset: MedsDataset, config: AuditConfig, out: Path) -> int:
    """Write one row per (subject, tier, request); returns the number of distinct prompts.

    The file holds the prompts' codes and subject ids: it is for the user's own systems and is
    as sensitive as the cohort."""
    ctx = prepare_context(dataset, config, frozenset({GENERATE}))
    rows = []
    for tier, prompts in ctx.prompts.items():
        for sid, p in sorted(prompts.items()):
            for kind, req in (("sample", t1_trajectory.sample_request(ctx, p.codes)),
                              ("greedy", t1_trajectory.greedy_request(ctx, p.codes))):
                rows.append({"subject_id": sid, "tier": tier, "kind": kind,
                             "prompt_hash": prompt_hash(req.prompt, req.n_samples, req.max_new_codes, req.temperature, req.top_p),
                             "prompt": list(req.prompt), "n_samples": req.n_samples, "max_new_codes": req.max_new_codes,
                             "temperature": req.temperature, "top_p": req.top_p, "seed": config.seed})
    df = pl.DataFrame(rows, schema={"subject_id": pl.Int64, "tier": pl.String, "kind": pl.String, "prompt_hash": pl.String,
                                    "prompt": pl.List(pl.String), "n_samples": pl.Int64, "max_new_codes": pl.Int64,
                                    "temperature": pl.Float64, "top_p": pl.Float64, "seed": pl.Int64})
    with atomic_path(Path(out)) as tmp:
        df.write_parquet(tmp)
    return df["prompt_hash"].n_unique()
