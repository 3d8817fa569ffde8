"""`memaudit export-prompts`: the audit's generation requests as a table, for a model that runs elsewhere."""

from __future__ import annotations

from pathlib import Path

from ..audits.context import AuditContext
from ..audits.sampling import sample_request
from ..audits.t1.trajectory import greedy_request
from ..cohort.meds_reader import MedsDataset
from ..cohort.stream import StreamRecipe
from ..config import AuditConfig
from ..prompts.export import write_prompt_table
from ..prompts.prepare import prepare as prepare_cohort


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
        from ..rundir import write_error

        raise write_error(e, out) or e from None
