"""The placebo audit: both arms are subjects the model never saw, so memorization is impossible
by construction and every "finding" is a false flag."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..cohort.meds_reader import MedsDataset

POSING_MEMBERS, TRUE_NON_MEMBERS = "placebo_members", "placebo_non_members"


def placebo_dir_name(draw: int) -> str:
    """The run directory of placebo draw `draw` beside the audit: `placebo`, `placebo_1`, …"""
    return "placebo" if draw == 0 else f"placebo_{draw}"


class PlaceboDataset(MedsDataset):
    """The same MEDS data with the non-member split cut in two (seeded), one half posing as members.
    Draw `draw` cuts it another way: several placebo audits of one trained model."""

    def __init__(self, root: Path, non_member_split: str, seed: int, draw: int = 0) -> None:
        super().__init__(root)
        self.non_member_split, self.seed, self.draw = non_member_split, seed, draw

    def subject_splits(self) -> pl.DataFrame:
        splits = super().subject_splits()
        ids = np.sort(splits.filter(pl.col("split") == self.non_member_split)["subject_id"].to_numpy())
        rng = np.random.default_rng([self.seed, 404] if self.draw == 0 else [self.seed, 404, self.draw])
        posing = set(rng.choice(ids, size=ids.size // 2, replace=False).tolist())
        return pl.DataFrame(
            {"subject_id": ids, "split": [POSING_MEMBERS if i in posing else TRUE_NON_MEMBERS for i in ids]},
            schema={"subject_id": pl.Int64, "split": pl.String},
        )
