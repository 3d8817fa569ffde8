"""Plugging in models and data as users bring them: several architectures, custom adapters, and
models reachable only through precomputed generations."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

import memaudit
from memaudit.adapters.base import GENERATE, SCORE, ScoreResult, sample_seed
from memaudit.adapters.hf import HFAdapter
from memaudit.synthetic.trainer import TrainConfig, train_model
from memaudit.testing import check_adapter

SMALL = {
    "subjects_per_arm": 15,
    "tiers": ["static", "codes:10"],
    "generation": {"n_samples": 3, "max_new_codes": 8},
    "statistics": {"n_bootstrap": 50},
    "t5": {"max_cases": 2, "n_samples": 3, "n_samples_original": 6, "n_null": 3},
}


@pytest.mark.parametrize("architecture", ["gpt2", "llama", "mamba", "mamba2"])
def test_hf_backend_on_each_architecture(architecture: str, small_cohort: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / architecture
    train_model(
        small_cohort,
        model_dir,
        TrainConfig(epochs=1, hidden_size=32, layers=1, heads=2, seed=0, architecture=architecture),
        progress=False,
    )
    config = json.loads((model_dir / "config.json").read_text())
    assert config["model_type"] == architecture
    adapter = HFAdapter(model_dir, batch_size=8)
    assert len(check_adapter(adapter)) == 5  # with "a later round extends the earlier samples"
    codes = ["SEX//F", "AGE//60-64", "LAB//SODIUM//NORMAL", "TIME//1-4w", "LAB//WBC//NORMAL"]
    ids = [adapter.tokenizer.bos_id] + adapter.tokenizer.encode(codes)
    with torch.no_grad():
        loop = [
            float(
                torch.log_softmax(adapter.model(input_ids=torch.tensor([ids[:t]])).logits[0, -1], -1)[ids[t]]
            )
            for t in range(1, len(ids))
        ]
    np.testing.assert_allclose(adapter.score([codes])[0].logprobs, loop, atol=1e-4)
    report = memaudit.run_audit(small_cohort, model_dir, SMALL)
    assert {t["status"] for t in report["tests"].values()} <= {
        "pass",
        "warn",
        "fail",
        "skipped",
        "not_tested",
    }
    assert report["tests"]["T4"]["status"] != "skipped"


class UnigramModel:
    """A user's own model: code frequencies learnt from a list of timelines."""

    def __init__(self, timelines: list[list[str]]) -> None:
        counts = Counter(c for t in timelines for c in t)
        self.codes = sorted(counts)
        total = sum(counts.values()) + len(self.codes)
        self.logp = {c: float(np.log((counts[c] + 1) / total)) for c in self.codes}
        self.unknown = float(np.log(1 / total))
        probs = np.exp([self.logp[c] for c in self.codes])
        self.probs = probs / probs.sum()
        self.entropy_mean = float(np.sum(self.probs * np.log(self.probs)))

    def capabilities(self) -> frozenset[str]:
        return frozenset({GENERATE, SCORE})

    def fingerprint(self) -> str:
        return f"unigram-{len(self.codes)}"

    def generate(self, prompts, n_samples, max_new_codes, temperature, top_p, seed):
        out = []
        for p in prompts:
            samples = []
            for j in range(n_samples):
                rng = np.random.default_rng(sample_seed(seed, p, j))
                samples.append(
                    [self.codes[i] for i in rng.choice(len(self.codes), size=max_new_codes, p=self.probs)]
                )
            out.append(samples)
        return out

    def score(self, sequences):
        res = []
        for s in sequences:
            lp = np.array([self.logp.get(c, self.unknown) for c in s])
            res.append(ScoreResult(lp, np.full(len(s), self.entropy_mean), np.ones(len(s))))
        return res


def test_a_custom_adapter_passes_the_conformance_check_and_audits(small_cohort: Path) -> None:
    data = pl.read_parquet(small_cohort / "data" / "train")
    model = UnigramModel([list(g["code"]) for _, g in data.group_by("subject_id", maintain_order=True)])
    assert check_adapter(model)[0] == "capabilities and fingerprint"
    report = memaudit.run_audit(small_cohort, model, SMALL)
    assert report["tests"]["T3"]["status"] == "skipped" and "embed" in report["tests"]["T3"]["summary"]
    assert report["tests"]["T4"]["status"] != "skipped"
    assert "masked_embedding_variance" not in report["tests"]["T4"]["metrics"]["by_score"]


def test_check_adapter_names_the_broken_contract(small_cohort: Path) -> None:
    class Unseeded(UnigramModel):
        def generate(self, prompts, n_samples, max_new_codes, temperature, top_p, seed):
            return super().generate(
                prompts, n_samples, max_new_codes, temperature, top_p, seed + len(prompts)
            )

    with pytest.raises(AssertionError, match="batch"):
        check_adapter(Unseeded([["A", "B"], ["B", "C"]]))


def test_prompts_to_external_generations_to_audit_round_trip(
    memaudit_cli: Callable, cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text(
        "subjects_per_arm: 25\ntiers: [static, codes:10]\ngeneration:\n  n_samples: 3\n  max_new_codes: 10\n"
        "statistics:\n  n_bootstrap: 50\n"
    )

    exported = memaudit_cli(
        "prompts",
        "--data",
        str(cohort_dir),
        "--out",
        str(tmp_path / "prompts.parquet"),
        "--config",
        str(config),
    )
    assert exported.returncode == 0, exported.stderr
    prompts = pl.read_parquet(tmp_path / "prompts.parquet")
    assert {"subject_id", "tier", "prompt_hash", "prompt", "n_samples", "kind"} <= set(prompts.columns)
    # the "external system": the same model, called by the user's own code
    external = HFAdapter(model_dir)
    rows = []
    for (h, prompt, n, m, temp, top_p, seed), group in prompts.group_by(
        ["prompt_hash", "prompt", "n_samples", "max_new_codes", "temperature", "top_p", "seed"],
        maintain_order=True,
    ):
        samples = external.generate([list(prompt)], n, m, temp, top_p, seed)[0]
        for sid, tier in group.select("subject_id", "tier").iter_rows():
            rows += [
                {"subject_id": sid, "tier": tier, "prompt_hash": h, "sample_index": j, "codes": s}
                for j, s in enumerate(samples)
            ]
    pl.DataFrame(rows).write_parquet(tmp_path / "generations.parquet")
    via_file = memaudit_cli(
        "audit",
        "--data",
        str(cohort_dir),
        "--generations",
        str(tmp_path / "generations.parquet"),
        "--out",
        str(tmp_path / "via_file"),
        "--config",
        str(config),
        "--quiet",
    )
    assert via_file.returncode == 0, via_file.stderr
    direct = memaudit_cli(
        "audit",
        "--data",
        str(cohort_dir),
        "--model",
        str(model_dir),
        "--out",
        str(tmp_path / "direct"),
        "--config",
        str(config),
        "--quiet",
    )
    assert direct.returncode == 0, direct.stderr
    a = json.loads((tmp_path / "via_file" / "report.json").read_text())
    b = json.loads((tmp_path / "direct" / "report.json").read_text())
    for t in ("T1", "T2"):
        assert a["tests"][t]["metrics"] == b["tests"][t]["metrics"]
    for t in ("T3", "T4", "T5"):
        assert a["tests"][t]["status"] == "skipped" and a["tests"][t]["summary"].startswith("Skipped:")
    missing = pl.read_parquet(tmp_path / "generations.parquet").head(10)
    missing.write_parquet(tmp_path / "partial.parquet")
    partial = memaudit_cli(
        "audit",
        "--data",
        str(cohort_dir),
        "--generations",
        str(tmp_path / "partial.parquet"),
        "--out",
        str(tmp_path / "partial"),
        "--config",
        str(config),
        "--quiet",
    )
    assert partial.returncode == 2 and "prompts without them" in partial.stderr
