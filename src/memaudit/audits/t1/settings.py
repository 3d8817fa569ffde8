"""T1 trajectory memorization: its settings, under `t1:` in the audit's YAML, read as
`ctx.config.t1`."""

from __future__ import annotations

from dataclasses import dataclass

from ...config.params import Interval, OneOf, Section, param
from ...config.sections import POSITIVE


@dataclass(frozen=True)
class T1(Section):
    docs = "T1 trajectory memorization"
    continuation_codes: int = param(32, "true continuation length compared with each sample", POSITIVE)
    extraction_k: int = param(
        10, "greedy k-extractability: the first k generated codes equal the truth", POSITIVE
    )
    time_scale_days: float = param(
        90.0, "dEMD time-aware cost: exp(-|dt| / scale)", Interval(0, None, open_low=True)
    )
    embedding: str = param(
        "ppmi",
        "code embedding of dEMD: ppmi (co-occurrence in non-members), model (input embeddings), icd "
        "(ontology)",
        OneOf(("ppmi", "model", "icd")),
    )
    embedding_dim: int = param(32, "dimensions of the PPMI-SVD embedding", POSITIVE)
