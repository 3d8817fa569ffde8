"""A MEDS dataset and a model from somebody else's stack: static rows with null time, MEDS_BIRTH,
raw lab values, other split names; a model that drops static rows, bins lab values into tokens,
splits codes into two tokens, reads its vocabulary from a parquet table and has its own start,
end and padding tokens. The audit must take them as they are."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from memaudit.adapters.hf import HFAdapter
from memaudit.adapters.tokenizer import load_tokenizer
from memaudit.cohort.meds_reader import MedsDataset
from memaudit.cohort.stream import StreamRecipe, build_stream
from memaudit.config import load_config
from memaudit.errors import UserInputError
from memaudit.hooks import load_hook
from memaudit.synthetic.cohort import SynthConfig, write_cohort
from memaudit.testing import check_adapter

# the user's hooks, as a file their config names
HOOKS = '''
def bin_lab(code, value):
    """LAB//GLUCOSE with 130.0 -> LAB//GLUCOSE//2: the value's bin becomes part of the code."""
    if code.startswith("LAB//") and value is not None:
        return f"{code}//{0 if value < 1 else 1 if value < 100 else 2}"
    return code

def split_code(code):
    """DIAGNOSIS//ICD10CM//F10.20 -> [DIAGNOSIS//ICD10CM, F10.20]: hierarchical codes as two tokens."""
    head, sep, tail = code.rpartition("//")
    return [head, tail] if sep else [code]
'''

GAPS = {
    "min_days": 1,
    "bins": [["TIME//<1w", 7], ["TIME//1-4w", 28], ["TIME//1-3m", 91], ["TIME//>3m", 1.0e9]],
}


def _foreign_meds(src: Path, out: Path) -> None:
    """Our synthetic cohort re-expressed the way another ETL writes MEDS."""
    shutil.copytree(src / "metadata", out / "metadata")
    truth = pl.read_parquet(src / "ground_truth.parquet").select("subject_id", "age")
    rename = {"train": "fit", "tuning": "tune", "held_out": "holdout"}
    splits = pl.read_parquet(src / "metadata" / "subject_splits.parquet")
    splits.with_columns(pl.col("split").replace(rename)).write_parquet(
        out / "metadata" / "subject_splits.parquet"
    )
    for shard in sorted((src / "data").rglob("*.parquet")):
        df = pl.read_parquet(shard)
        first = (
            df.group_by("subject_id")
            .agg(
                pl.col("time").min().alias("t0"),
                pl.col("code").filter(pl.col("code").str.starts_with("SEX//")).first().alias("sex"),
            )
            .join(truth, on="subject_id")
        )
        static = first.select(
            "subject_id",
            pl.lit(None, pl.Datetime("us")).alias("time"),
            pl.col("sex").str.replace("SEX//", "GENDER//").alias("code"),
            pl.lit(None, pl.Float32).alias("numeric_value"),
        )
        birth = first.select(
            "subject_id",
            (pl.col("t0") - pl.duration(days=(pl.col("age") * 365.25 + 30).cast(pl.Int64))).alias("time"),
            pl.lit("MEDS_BIRTH").alias("code"),
            pl.lit(None, pl.Float32).alias("numeric_value"),
        )
        events = df.filter(~pl.col("code").str.contains(r"^(SEX|AGE|TIME)//")).with_columns(
            pl.when(pl.col("code").str.starts_with("LAB//"))
            .then(pl.col("code").str.replace(r"//[A-Z]+$", ""))
            .otherwise(pl.col("code"))
            .alias("code")
        )
        merged = pl.concat([static, birth, events.select(static.columns)]).sort(
            "subject_id", "time", nulls_last=False, maintain_order=True
        )
        target = out / "data" / rename[shard.parent.name] / shard.name
        target.parent.mkdir(parents=True, exist_ok=True)
        merged.write_parquet(target)


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("foreign")
    write_cohort(
        root / "ours", SynthConfig(n_subjects=160, seed=21, canaries_per_repetition=2), progress=False
    )
    _foreign_meds(root / "ours", root / "meds")
    (root / "user_hooks.py").write_text(HOOKS)
    hooks = root / "user_hooks.py"
    # the user's stack: their stream drops static rows, derives age and time gaps, bins lab values
    recipe = StreamRecipe.from_config(
        {
            "static_rows": "drop",
            "event_to_code": f"{hooks}:bin_lab",
            "derive_age": {"birth_code": "MEDS_BIRTH"},
            "derive_time_gaps": GAPS,
        }
    )
    ds = MedsDataset(root / "meds")
    timelines = ds.timelines(ds.arm_ids("fit"), recipe)
    split = load_hook(f"{hooks}:split_code", "test")
    tokens = sorted({t for tl in timelines.values() for c in tl.without_static().codes for t in split(c)})
    table = pl.DataFrame(
        {"token": ["<pad>", "<s>", "</s>", *tokens], "token_id": list(range(len(tokens) + 3))}
    )
    model_dir = root / "model"
    model_dir.mkdir()
    table.write_parquet(model_dir / "tokens.parquet")
    ids = {t: i for t, i in zip(table["token"], table["token_id"])}
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=len(ids),
            n_positions=64,
            n_embd=32,
            n_layer=1,
            n_head=2,
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
        )
    )
    seqs = [
        [1, *(ids[t] for c in tl.without_static().codes for t in split(c)), 2] for tl in timelines.values()
    ]
    windows = [s[i : i + 64] for s in seqs for i in range(0, max(1, len(s) - 32), 32)]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        for b in np.array_split(rng.permutation(len(windows)), max(1, len(windows) // 16)):
            width = max(len(windows[i]) for i in b)
            x = torch.zeros((len(b), width), dtype=torch.long)
            labels = torch.full((len(b), width), -100)
            for r, i in enumerate(b):
                x[r, : len(windows[i])] = torch.tensor(windows[i])
                labels[r, : len(windows[i])] = torch.tensor(windows[i])
            loss = model(input_ids=x, attention_mask=(labels != -100).long(), labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.save_pretrained(model_dir, safe_serialization=True)
    config = root / "audit.yaml"
    config.write_text(
        json.dumps(
            {
                "splits": {"members": "fit", "non_members": "holdout"},
                "subjects_per_arm": 20,
                "tiers": ["static", "codes:10"],
                "generation": {"n_samples": 3, "max_new_codes": 8},
                "statistics": {"n_bootstrap": 50},
                "t5": {"max_cases": 2, "n_samples": 3, "n_samples_original": 6, "n_null": 3},
                "cohort": {
                    "static_rows": "auto",
                    "event_to_code": f"{hooks}:bin_lab",
                    "derive_age": {"birth_code": "MEDS_BIRTH", "prefix": "AGE//", "band_years": 5},
                    "derive_time_gaps": GAPS,
                },
                "model_input": {
                    "vocab": "tokens.parquet",
                    "code_column": "token",
                    "index_column": "token_id",
                    "code_to_tokens": f"{hooks}:split_code",
                    "start_token": "<s>",
                    "end_token": "</s>",
                    "pad_id": 0,
                },
            }
        )
    )
    return {
        "meds": root / "meds",
        "model": model_dir,
        "config": config,
        "hooks": hooks,
        "ours": root / "ours",
    }


def test_recipe_rebuilds_the_stream_from_meds_rows() -> None:
    us = lambda d: int(np.datetime64(d, "us").astype(np.int64))
    recipe = StreamRecipe.from_config(
        {"event_to_code": None, "derive_age": {"birth_code": "MEDS_BIRTH"}, "derive_time_gaps": GAPS}
    )
    codes, days, static, header = build_stream(
        [None, us("1950-03-01"), us("2020-01-01"), us("2020-01-01T00:05"), us("2020-03-01")],
        ["GENDER//F", "MEDS_BIRTH", "I10", "LAB//GLUCOSE", "E11.9"],
        [None, None, None, 130.0, None],
        recipe,
    )
    assert codes == ["GENDER//F", "AGE//65-69", "I10", "LAB//GLUCOSE", "TIME//1-3m", "E11.9"]
    assert (static, header) == (1, 2)
    np.testing.assert_allclose(days, [0, 0, 0, 5 / 1440, 60, 60])


def test_reader_puts_static_rows_first_and_dates_from_the_first_event(foreign: dict[str, Path]) -> None:
    ds = MedsDataset(foreign["meds"])
    sid = int(ds.arm_ids("holdout")[0])
    plain = ds.timelines([sid])[sid]
    assert plain.codes[0].startswith("GENDER//") and plain.static == 1
    assert plain.codes[1] == "MEDS_BIRTH" and np.all(
        np.isfinite(plain.days)
    )  # null times do not poison the dates
    assert plain.days[0] == plain.days[1] == 0 and plain.days[2] > 365  # days count from the first timed row
    rebuilt = ds.timelines(
        [sid],
        StreamRecipe.from_config(
            {"event_to_code": f"{foreign['hooks']}:bin_lab", "derive_age": {"birth_code": "MEDS_BIRTH"}}
        ),
    )[sid]
    assert "MEDS_BIRTH" not in rebuilt.codes and rebuilt.codes[1].startswith("AGE//") and rebuilt.header == 2
    assert all(c.count("//") == 2 for c in rebuilt.codes if c.startswith("LAB//"))


def test_vocabulary_from_a_table_a_json_map_or_a_function(
    foreign: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = load_config(foreign["config"]).model_input.to_dict()
    tok = load_tokenizer(foreign["model"], section)
    assert (tok.bos_id, tok.eos_id, tok.pad_id, tok.unk_id) == (1, 2, 0, None)
    codes = ["DIAGNOSIS//ICD10CM//I10", "LAB//GLUCOSE//2", "AGE//60-64"]
    ids, ends = tok.encode_with_spans(codes)
    assert len(ids) == 6 and ends == [2, 4, 6]
    assert tok.decode(ids + [2, 7, 8]) == codes  # stops at the end token
    assert tok.decode(tok.encode(["NEVER//SEEN"])) == [] and tok.unknown_counts == {
        "NEVER//SEEN": 1
    }  # sent as padding
    table = pl.read_parquet(foreign["model"] / "tokens.parquet")
    table.write_csv(tmp_path / "tokens.csv")
    from_csv = load_tokenizer(foreign["model"], {**section, "vocab": str(tmp_path / "tokens.csv")})
    (tmp_path / "plain.json").write_text(json.dumps(dict(zip(table["token"], table["token_id"]))))
    from_json = load_tokenizer(foreign["model"], {**section, "vocab": str(tmp_path / "plain.json")})
    (tmp_path / "vocab_fn.py").write_text(
        "import polars as pl\ndef load(model_dir):\n"
        "    t = pl.read_parquet(model_dir / 'tokens.parquet')\n"
        "    return dict(zip(t['token'], t['token_id']))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from_fn = load_tokenizer(foreign["model"], {**section, "vocab": "vocab_fn:load"})
    for other in (from_csv, from_json, from_fn):
        assert other.token_to_id == tok.token_to_id and other.encode(codes) == ids
    with pytest.raises(UserInputError, match=r"model_input\.code_column"):
        load_tokenizer(foreign["model"], {**section, "code_column": "code"})
    with pytest.raises(UserInputError, match="start_token"):
        load_tokenizer(foreign["model"], {**section, "start_token": "[CLS]"})


def test_multi_token_codes_score_as_the_sum_of_their_tokens(foreign: dict[str, Path]) -> None:
    adapter = HFAdapter(
        foreign["model"], batch_size=4, model_input=load_config(foreign["config"]).model_input.to_dict()
    )
    codes = ["AGE//60-64", "DIAGNOSIS//ICD10CM//I10", "LAB//GLUCOSE//2", "TIME//1-4w", "LAB//GLUCOSE//1"]
    ids, ends = adapter.tokenizer.encode_with_spans(codes)
    with torch.no_grad():
        logp = torch.log_softmax(adapter.model(input_ids=torch.tensor([[1, *ids]])).logits[0], -1)
    token_lp = [float(logp[t, tok]) for t, tok in enumerate(ids)]  # position t predicts token t (after <s>)
    expected = [sum(token_lp[s:e]) for s, e in zip([0, *ends[:-1]], ends)]
    np.testing.assert_allclose(adapter.score([codes])[0].logprobs, expected, atol=1e-4)
    adapter.learn(codes)
    assert len(check_adapter(adapter)) == 5
    samples = adapter.generate([codes[:2]], 4, 5, 1.0, 1.0, seed=0)[0]
    assert all(len(s) <= 5 for s in samples)
    known = {c for c in codes}
    # a decoded code is either a learned multi-token code or a lone token nothing explains
    assert all(c in known or c in adapter.tokenizer.token_to_id for s in samples for c in s)


def _audit(
    memaudit_cli: Callable, foreign: dict[str, Path], out: Path, config: Path
) -> subprocess.CompletedProcess:
    return memaudit_cli(
        "audit",
        "--data",
        str(foreign["meds"]),
        "--model",
        str(foreign["model"]),
        "--out",
        str(out),
        "--config",
        str(config),
        "--quiet",
    )


def test_audit_of_a_foreign_stack_end_to_end(
    memaudit_cli: Callable, foreign: dict[str, Path], tmp_path: Path
) -> None:
    done = _audit(memaudit_cli, foreign, tmp_path / "run", foreign["config"])
    assert done.returncode in (0, 3), done.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    stream = report["cohort"]["stream"]
    assert (
        stream["static_rows_found"]["used"] is False and "knows none" in stream["static_rows_found"]["reason"]
    )
    assert report["cohort"]["skipped_tiers"] == {}
    assert set(report["tests"]["T1"]["metrics"]["by_tier"]) == {"static", "codes:10"}
    # only codes no training member had (rare codes of non-members); unbinned labs would add dozens
    assert report["cohort"]["unknown_codes"]["distinct"] < 10
    windows = report["model_input"]
    assert windows["context_tokens"] == 64 and windows["tokens_per_code_max"] == 2
    assert windows["sequences_longer_than_context"] > 0 and "windows of 64 tokens" in windows["summary"]
    assert "windows of 64 tokens" in (tmp_path / "run" / "report.html").read_text()
    assert report["tests"]["T4"]["status"] != "skipped"


def test_static_tier_is_skipped_with_the_reason_when_the_stream_has_no_demographics(
    memaudit_cli: Callable, foreign: dict[str, Path], tmp_path: Path
) -> None:
    raw = json.loads(foreign["config"].read_text())
    raw["cohort"]["derive_age"] = None
    raw["cohort"]["static_rows"] = "drop"
    config = tmp_path / "no_age.yaml"
    config.write_text(json.dumps(raw))
    done = _audit(memaudit_cli, foreign, tmp_path / "run", config)
    assert done.returncode in (0, 3), done.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert "static" in report["cohort"]["skipped_tiers"]
    assert "static_rows: drop" in report["cohort"]["skipped_tiers"]["static"]
    assert set(report["tests"]["T1"]["metrics"]["by_tier"]) == {"codes:10"}
    assert "was not run" in (tmp_path / "run" / "report.html").read_text()


@pytest.mark.parametrize(
    "section,needle",
    [
        ({"cohort": {"static_rows": "sometimes"}}, "cohort.static_rows"),
        ({"cohort": {"event_to_code": "no_such_module_xyz:f"}}, "importable module"),
        ({"cohort": {"derive_time_gaps": {"bins": [["A", 7], ["B", 3]]}}}, "increasing"),
        ({"model_input": {"pad_id": -1}}, "pad_id"),
    ],
)
def test_bad_recipe_or_vocabulary_config_exits_2(
    memaudit_cli: Callable, section: dict, needle: str, foreign: dict[str, Path], tmp_path: Path
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(json.dumps(section))
    done = _audit(memaudit_cli, foreign, tmp_path / "run", config)
    assert done.returncode == 2 and needle in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run" / "report.json").exists()
