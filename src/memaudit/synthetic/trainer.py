"""`memaudit train`: the built-in model, a tiny transformers Llama trained on the member split.

The model trains on the data as it is: a synthetic cohort holds each ×r canary r times (copies
under new subject ids, as real extracts repeat records), so it is seen r times per epoch. For a
cohort written with each record once (`synth --no-repetitions-in-data`), canaries are repeated in
each epoch as many times as the ground truth says; `repeat_canaries=False` trains on each once.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import meds
import numpy as np
import polars as pl
import torch

from ..adapters.vocab import Vocab
from ..atomic import atomic_dir
from ..cohort.meds_reader import MedsDataset
from ..cohort.repeated_records import record_groups
from ..errors import UserInputError
from ..progress import progress_bar
from .private import make_private, privacy_spent


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 12
    hidden_size: int = 128
    layers: int = 2
    heads: int = 4
    context: int = 512
    batch_size: int = 32
    learning_rate: float = 3e-3
    seed: int = 0
    member_split: str = "train"
    tuning_split: str = "tuning"
    repeat_canaries: bool = True
    early_stopping_patience: int | None = None  # epochs without tuning-loss improvement; None = off
    architecture: str = "llama"  # llama | gpt2 | mamba | mamba2
    hold_out: float = 0.0  # share of members left out (seeded): a reference model that never saw them
    hold_out_seed: int | None = None  # the seed of that draw (default: `seed`)
    hold_out_complement: bool = False  # leave out the records the draw keeps instead (the other half)
    # safeguards (docs/safeguards.md): train on one copy of each repeated record (the scan's groups;
    # the ground truth's repetitions are not added either); codes held by fewer training patients
    # than min_code_subjects become the unknown token
    dedup: bool = False
    min_code_subjects: int = 1
    dp_epsilon: float | None = None  # DP-SGD through Opacus at this ε (δ = 1/n); None = off

    def validate(self) -> None:
        for name in ("epochs", "hidden_size", "layers", "heads", "batch_size"):
            if getattr(self, name) < 1:
                raise UserInputError(
                    f"--{name.replace('_', '-')} >= 1", str(getattr(self, name)), "pass a positive number"
                )
        if self.hidden_size % self.heads:
            raise UserInputError(
                "--hidden-size divisible by --heads",
                f"{self.hidden_size} and {self.heads}",
                "pick e.g. --hidden-size 128 --heads 4",
            )
        if self.dp_epsilon is not None and self.dp_epsilon <= 0:
            raise UserInputError("--dp-epsilon > 0", str(self.dp_epsilon), "pass e.g. --dp-epsilon 8")
        if self.min_code_subjects < 1:
            raise UserInputError(
                "--min-code-subjects >= 1", str(self.min_code_subjects), "pass 1 (off) or more"
            )
        if self.architecture not in ARCHITECTURES:
            raise UserInputError(
                f"--architecture one of {', '.join(ARCHITECTURES)}",
                repr(self.architecture),
                "pick one of them",
            )
        if self.context < 16:
            raise UserInputError("--context >= 16", str(self.context), "use the default 512")
        if not 0 <= self.hold_out < 1:
            raise UserInputError("--hold-out in [0, 1)", str(self.hold_out), "pass e.g. --hold-out 0.5")


ARCHITECTURES = ("llama", "gpt2", "mamba", "mamba2")


def build_model(cfg: TrainConfig, vocab: Vocab) -> torch.nn.Module:
    """A tiny causal LM of the chosen transformers architecture (Mamba2 is what EHRMamba2 uses)."""
    import transformers as tf

    special = {"pad_token_id": vocab.pad_id, "bos_token_id": vocab.bos_id, "eos_token_id": vocab.eos_id}
    h = cfg.hidden_size
    if cfg.architecture == "gpt2":
        return tf.GPT2LMHeadModel(
            tf.GPT2Config(
                vocab_size=len(vocab),
                n_embd=h,
                n_layer=cfg.layers,
                n_head=cfg.heads,
                n_positions=cfg.context,
                **special,
            )
        )
    if cfg.architecture == "mamba":
        return tf.MambaForCausalLM(
            tf.MambaConfig(
                vocab_size=len(vocab), hidden_size=h, num_hidden_layers=cfg.layers, state_size=16, **special
            )
        )
    if cfg.architecture == "mamba2":
        return tf.Mamba2ForCausalLM(
            tf.Mamba2Config(
                vocab_size=len(vocab),
                hidden_size=h,
                num_hidden_layers=cfg.layers,
                state_size=16,
                num_heads=2 * h // 16,
                head_dim=16,
                n_groups=1,
                expand=2,
                chunk_size=64,
                **special,
            )
        )
    return tf.LlamaForCausalLM(
        tf.LlamaConfig(
            vocab_size=len(vocab),
            hidden_size=h,
            intermediate_size=h * 2,
            num_hidden_layers=cfg.layers,
            num_attention_heads=cfg.heads,
            num_key_value_heads=cfg.heads,
            max_position_embeddings=cfg.context,
            tie_word_embeddings=True,
            **special,
        )
    )


UNSEEN_FILE = "unseen_members.parquet"  # the members a model trained with --hold-out never saw


def held_out_members(
    member_ids: np.ndarray, share: float, seed: int, groups: list[list[int]] = (), complement: bool = False
) -> list[int]:
    """A seeded `share` of the members' records, sorted: what a reference model is trained
    without. A repeated record (`groups`: memaudit scan's rule) is one record, its copies held out
    together, so a held-out record is one the reference never saw under any id. `complement`:
    the records the same draw keeps instead, so two models of one seed, one each way, split the
    records between them (the counterfactual-truth half-models)."""
    if share <= 0:
        return []
    rng = np.random.default_rng([seed, 23])
    if not groups:
        size = round(share * member_ids.size)
        chosen = {int(s) for s in rng.choice(member_ids, size=size, replace=False)}
        return sorted(int(s) for s in member_ids if (int(s) in chosen) != complement)
    in_group = {s for g in groups for s in g}
    records = sorted([list(g) for g in groups] + [[int(s)] for s in member_ids if int(s) not in in_group])
    chosen = set(rng.choice(len(records), size=round(share * len(records)), replace=False).tolist())
    return sorted(s for i, record in enumerate(records) if (i in chosen) != complement for s in record)


def _canary_repeats(data_dir: Path) -> dict[int, int]:
    """subject → times per epoch, from the ground truth; empty when the data already holds the
    repetitions (copies linked by copy_of) or has no ground truth."""
    gt = data_dir / "ground_truth.parquet"
    if not gt.exists():
        return {}
    if (
        "copy_of" in pl.read_parquet_schema(gt)
        and pl.read_parquet(gt, columns=["copy_of"]).drop_nulls().height
    ):
        return {}
    df = pl.read_parquet(gt, columns=["subject_id", "canary_repetitions"]).filter(
        pl.col("canary_repetitions") > 0
    )
    return dict(zip(df["subject_id"].to_list(), df["canary_repetitions"].to_list()))


def duplicate_copies(groups: list[list[int]]) -> list[int]:
    """The subjects `--dedup` leaves out: every member of a repeated-record group but its lowest id."""
    return sorted(s for g in groups for s in g[1:])


def build_vocab(members: dict, min_code_subjects: int) -> tuple[Vocab, int]:
    """The vocabulary of the members' codes held by at least `min_code_subjects` of them (the
    others become the unknown token), and how many codes were left out."""
    holders: dict[str, int] = {}
    for t in members.values():
        for c in set(t.codes):
            holders[c] = holders.get(c, 0) + 1
    kept = [c for c, n in holders.items() if n >= min_code_subjects]
    return Vocab.build(kept), len(holders) - len(kept)


def _encode(vocab: Vocab, codes: tuple[str, ...], context: int) -> list[int]:
    return ([vocab.bos_id] + vocab.encode(codes) + [vocab.eos_id])[:context]


def _batches(seqs: list[list[int]], batch_size: int, rng: np.random.Generator, pad: int):
    """Length-bucketed shuffled batches: sort by length within random chunks to cut padding."""
    order = rng.permutation(len(seqs))
    chunk = batch_size * 16
    batches = []
    for s in range(0, len(order), chunk):
        part = sorted(order[s : s + chunk], key=lambda i: len(seqs[i]))
        batches += [part[b : b + batch_size] for b in range(0, len(part), batch_size)]
    for b in rng.permutation(len(batches)):
        idx = batches[b]
        width = max(len(seqs[i]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, : len(seqs[i])] = torch.tensor(seqs[i])
        mask = (ids != pad).long()
        labels = ids.masked_fill(mask == 0, -100)
        yield ids, mask, labels


@torch.no_grad()
def mean_loss(model: torch.nn.Module, seqs: list[list[int]], pad: int, batch_size: int = 64) -> float:
    model.eval()
    total, count = 0.0, 0
    rng = np.random.default_rng(0)
    for ids, mask, labels in _batches(seqs, batch_size, rng, pad):
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        n = int((labels[:, 1:] != -100).sum())
        total += float(out.loss) * n
        count += n
    return total / max(count, 1)


def train_model(data_dir: Path, out_dir: Path, cfg: TrainConfig, progress: bool = True) -> dict:
    from ..adapters.hf import quiet_transformers

    quiet_transformers()
    cfg.validate()
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise UserInputError(
            "an empty or new model directory", f"{out_dir} (not empty)", "choose a new --out"
        )
    ds = MedsDataset(data_dir)
    member_ids = ds.arm_ids(cfg.member_split)
    # memaudit scan's repeated records: held out together, and what --dedup drops
    groups = record_groups(ds.rows(member_ids), meds.birth_code) if cfg.hold_out > 0 or cfg.dedup else []
    draw = cfg.seed if cfg.hold_out_seed is None else cfg.hold_out_seed
    unseen = held_out_members(member_ids, cfg.hold_out, draw, groups, cfg.hold_out_complement)
    trained_ids = sorted(set(member_ids.tolist()) - set(unseen))
    unseen_set = set(unseen)
    trained_groups = [g for g in groups if g[0] not in unseen_set]  # groups are held out whole
    dropped = duplicate_copies(trained_groups) if cfg.dedup else []
    members = ds.timelines(sorted(set(trained_ids) - set(dropped)))
    splits = set(ds.subject_splits()["split"].unique().to_list())
    tuning = ds.timelines(ds.arm_ids(cfg.tuning_split)) if cfg.tuning_split in splits else {}
    vocab, rare_codes = build_vocab(members, cfg.min_code_subjects)
    repeats = _canary_repeats(Path(data_dir)) if cfg.repeat_canaries and not cfg.dedup else {}
    seqs: list[list[int]] = []
    for sid in sorted(members):
        enc = _encode(vocab, members[sid].codes, cfg.context)
        seqs += [enc] * max(1, repeats.get(sid, 1))
    tune_seqs = [_encode(vocab, tuning[s].codes, cfg.context) for s in sorted(tuning)]

    torch.manual_seed(cfg.seed)
    model = build_model(cfg, vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.0)
    rng = np.random.default_rng([cfg.seed, 11])
    epoch_batches = lambda: _batches(seqs, cfg.batch_size, rng, vocab.pad_id)
    trained, engine, delta = model, None, None
    if cfg.dp_epsilon is not None:
        trained, opt, loader, engine, delta = make_private(
            model, opt, seqs, cfg.batch_size, vocab.pad_id, cfg.epochs, cfg.dp_epsilon, cfg.seed
        )
        epoch_batches = lambda: (b for b in loader if b[0].numel())
    steps_per_epoch = math.ceil(len(seqs) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 50) * max(0.05, 1 - s / total)
    )
    history, best, best_state, stale = [], float("inf"), None, 0
    start = time.time()
    bar = progress_bar(progress, total=total, desc="train", unit="step")
    for epoch in range(cfg.epochs):
        trained.train()
        losses = []
        for ids, mask, labels in epoch_batches():
            loss = trained(input_ids=ids, attention_mask=mask, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            if engine is None:  # DP-SGD clips each sequence's gradient itself
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.3f}")
        tune = mean_loss(model, tune_seqs, vocab.pad_id) if tune_seqs else float("nan")
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "tuning_loss": tune})
        if cfg.early_stopping_patience is not None and tune_seqs:
            if tune < best - 1e-4:
                best, stale = tune, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if stale >= cfg.early_stopping_patience:
                    break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    info = {
        "train_config": asdict(cfg),
        "history": history,
        "n_member_subjects": len(members),
        "n_training_sequences": len(seqs),
        "seconds": round(time.time() - start, 1),
        "canaries_repeated": len(repeats),
        "members_held_out": len(unseen),
        "safeguards": {
            "dedup": {"on": cfg.dedup, "copies_dropped": len(dropped)},
            "min_code_subjects": {"k": cfg.min_code_subjects, "codes_made_unknown": rare_codes},
            "dp_sgd": None if engine is None else privacy_spent(engine, delta, cfg.dp_epsilon),
        },
    }
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        vocab.save(tmp / "vocab.json")
        (tmp / "memaudit_training.json").write_text(json.dumps(info, indent=2))
        if unseen:
            pl.DataFrame({"subject_id": unseen}, schema={"subject_id": pl.Int64}).write_parquet(
                tmp / UNSEEN_FILE
            )
    return info
