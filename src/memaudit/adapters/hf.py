"""`hf` backend: any transformers AutoModelForCausalLM directory plus a code vocabulary."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UserInputError
from ..fingerprint import hash_files
from .base import ALL_CAPABILITIES, AdapterBase, ScoreResult, sample_seed
from .sampler import SAMPLER, SeededSampler
from .tokenizer import CodeTokenizer, load_tokenizer

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
UNBOUNDED_CONTEXT = 1 << 30  # a config without max_position_embeddings / n_positions (Mamba)


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MAX_GPU_ROWS = 8192  # rows of one batch on a GPU, whatever the memory says


def resolve_device(device: str) -> str:
    """`auto`: the first GPU when one is visible, else the CPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserInputError(
            "a visible CUDA GPU for hardware.device",
            f"{device!r} and no GPU",
            "set hardware.device: auto or cpu",
        )
    return device


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """`auto`: bfloat16 on a GPU that supports it, float32 elsewhere."""
    if dtype == "auto":
        on_gpu = device.startswith("cuda")
        return torch.bfloat16 if on_gpu and torch.cuda.is_bf16_supported() else torch.float32
    return DTYPES[dtype]


def quiet_transformers() -> None:
    """Keep stderr for our one-line messages: no transformers progress bars or info logs."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


class HFAdapter(AdapterBase):
    """Loads a Hugging Face causal LM directory; safetensors only unless `trust_pickle`.

    `model_input` (the config section) says how codes become the model's tokens (default: the
    directory's vocab.json, one token per code); see adapters/tokenizer.py."""

    def __init__(
        self,
        model_dir: Path,
        batch_size: int = 64,
        trust_pickle: bool = False,
        device: str = "auto",
        model_input: Mapping[str, Any] | None = None,
        dtype: str = "auto",
        memory_fraction: float = 0.8,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.memory_fraction = memory_fraction
        self._check_dir(trust_pickle)
        self.tokenizer = load_tokenizer(self.model_dir, model_input)
        from transformers import AutoModelForCausalLM

        quiet_transformers()
        try:
            self.model = AutoModelForCausalLM.from_pretrained(
                self.model_dir, use_safetensors=not trust_pickle
            )
        except (OSError, ValueError) as e:
            raise UserInputError(
                "a loadable transformers model directory",
                f"{self.model_dir}: {str(e)[:300]}",
                "save the model with save_pretrained(safe_serialization=True)",
            ) from None
        self.model.to(device=self.device, dtype=self.dtype).eval()
        cfg = self.model.config
        self.context = int(
            getattr(cfg, "max_position_embeddings", None)
            or getattr(cfg, "n_positions", None)
            or UNBOUNDED_CONTEXT
        )
        if len(self.tokenizer.vocab) > self.model.get_input_embeddings().num_embeddings:
            raise UserInputError(
                f"a vocabulary of at most {self.model.get_input_embeddings().num_embeddings} ids",
                f"{len(self.tokenizer.vocab)} ids in the vocabulary",
                "use the vocabulary the model was trained with",
            )
        self._fingerprint: str | None = None

    def rows_per_batch(self, tokens_per_row: int, logits_rows: int = 1) -> int:
        """Rows in one batch: `batch_size` on a CPU; on a GPU, as many as `memory_fraction` of its
        free memory holds, each row carrying `tokens_per_row` tokens of key/value cache and
        `logits_rows` positions of float32 logits over the vocabulary (at most MAX_GPU_ROWS)."""
        if not self.device.startswith("cuda"):
            return self.batch_size
        cfg = self.model.config
        hidden = int(getattr(cfg, "hidden_size", None) or getattr(cfg, "n_embd", 512))
        layers = int(getattr(cfg, "num_hidden_layers", None) or getattr(cfg, "n_layer", 12))
        width = torch.finfo(self.dtype).bits // 8
        per_row = (
            tokens_per_row * 2 * layers * hidden * width + logits_rows * len(self.tokenizer.vocab) * 4 * 3
        )
        free, _ = torch.cuda.mem_get_info(torch.device(self.device))
        return int(max(1, min(MAX_GPU_ROWS, self.memory_fraction * free // per_row)))

    def _check_dir(self, trust_pickle: bool) -> None:
        if self.model_dir.is_file():
            raise UserInputError(
                "a transformers model directory (config.json and weights)",
                f"the file {self.model_dir}"
                + (" (a Lightning checkpoint)" if self.model_dir.suffix == ".ckpt" else ""),
                "export it to a directory first; for MEDS_EIC_AR: memaudit import-eic-ar --checkpoint FILE "
                "--tensorized TENSORIZED_DIR --out MODEL_DIR --trust-pickle",
            )
        if not self.model_dir.is_dir():
            raise UserInputError(
                "a model directory",
                f"{self.model_dir} (does not exist)",
                "pass --model pointing at a save_pretrained directory",
            )
        if not (self.model_dir / "config.json").exists():
            raise UserInputError(
                "config.json in the model directory",
                f"none in {self.model_dir}",
                "save the model with save_pretrained",
            )
        has_safe = any((self.model_dir / f).exists() for f in WEIGHT_FILES)
        has_pickle = any((self.model_dir / f).exists() for f in PICKLE_FILES)
        if not has_safe and has_pickle and not trust_pickle:
            raise UserInputError(
                "safetensors weights (model.safetensors)",
                f"only pickle weights in {self.model_dir}",
                "convert with save_pretrained(safe_serialization=True), or pass --trust-pickle "
                "if you trust the file (pickle can run code)",
            )
        if not has_safe and not has_pickle:
            raise UserInputError(
                "model weights (model.safetensors)",
                f"none in {self.model_dir}",
                "save the weights with save_pretrained",
            )

    def capabilities(self) -> frozenset[str]:
        return ALL_CAPABILITIES

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            files = hash_files(
                p
                for p in self.model_dir.iterdir()
                if p.is_file() and p.name.endswith((".safetensors", ".bin", ".json"))
            )
            self._fingerprint = hashlib.sha256(
                f"{files}\x1e{self.tokenizer.identity()}".encode()
            ).hexdigest()[:16]
        return self._fingerprint

    def numerics(self) -> str:
        """The sampler, device kind and dtype: each changes the samples a seed draws."""
        return f"{SAMPLER}|{self.device.split(':')[0]}|{str(self.dtype).replace('torch.', '')}"

    def window_plan(
        self,
        sequences: Sequence[Sequence[str]],
        prompts: Sequence[Sequence[str]] = (),
        max_new_codes: int = 0,
    ) -> dict:
        """How scoring, embedding and prompting fit the model's context: timelines scored in
        windows, and prompts cut to leave room for `max_new_codes` generated codes."""
        lengths = np.array([len(self._with_start(self.tokenizer.encode(s))) for s in sequences] or [0])
        longer = int((lengths > self.context).sum())
        bounded = self.context < UNBOUNDED_CONTEXT
        max_new_tokens = max_new_codes * self.tokenizer.max_code_tokens
        cut = (
            sum(self._prompt_ids(p, max_new_tokens)[1] for p in set(map(tuple, prompts)))
            if max_new_codes
            else 0
        )
        if longer:
            summary = (
                f"{longer} of {len(sequences)} audited timelines exceed the model's context of "
                f"{self.context} tokens (longest {int(lengths.max())}). They were scored in windows of "
                f"{self.context} tokens, each later window re-reading the previous {self.context // 2} "
                f"tokens, so every code past the first window is scored with at least "
                f"{self.context // 2} tokens of history; T3 embeds the last window."
            )
        else:
            summary = (
                f"Every audited timeline fits the model's context ({int(lengths.max())} tokens at most"
                + (f" of {self.context})" if bounded else ")")
                + ": each was scored in one pass."
            )
        if cut:
            summary += (
                f" {cut} distinct prompts were longer than the context minus the {max_new_tokens} tokens to "
                "generate and kept their start token and most recent codes."
            )
        return {
            "context_tokens": self.context if bounded else None,
            "window_tokens": self.context if bounded else None,
            "window_overlap_tokens": self.context // 2 if bounded else None,
            "sequences": len(sequences),
            "sequences_longer_than_context": longer,
            "longest_sequence_tokens": int(lengths.max()),
            "tokens_per_code_max": self.tokenizer.max_code_tokens,
            "prompts_cut_to_fit": cut,
            "device": self.device,
            "dtype": str(self.dtype).replace("torch.", ""),
            "summary": summary,
        }

    def learn(self, codes: Sequence[str]) -> None:
        """Codes that generated token runs may decode to (needed only for multi-token codes)."""
        self.tokenizer.learn(codes)

    def code_embeddings(self) -> dict[str, np.ndarray]:
        table = self.model.get_input_embeddings().weight.detach().float().cpu().numpy()
        return {c: table[i] for c, i in self.tokenizer.token_to_id.items()}

    def _with_start(self, ids: list[int]) -> list[int]:
        """The token ids with the start token in front, unless the codes already begin with it (a
        stream like MEDS_EIC_AR's opens each timeline with its start token)."""
        bos = self.tokenizer.bos_id
        if bos is None or (ids and ids[0] == bos):
            return ids
        return [bos, *ids]

    def _prompt_ids(self, prompt: Sequence[str], max_new_tokens: int) -> tuple[list[int], bool]:
        """A prompt's ids cut to leave room for the generated tokens (the start token and the most
        recent codes kept), and whether it was cut."""
        room = self.context - max_new_tokens
        if room < 1:
            raise UserInputError(
                f"generation.max_new_codes × tokens per code below the context ({self.context} tokens)",
                f"{max_new_tokens} new tokens",
                "lower generation.max_new_codes",
            )
        ids = self._with_start(self.tokenizer.encode(prompt))
        if len(ids) <= room:
            return ids, False
        head = ids[:1] if self.tokenizer.bos_id is not None and ids[0] == self.tokenizer.bos_id else []
        return head + ids[len(ids) - (room - len(head)) :], True

    def vocabulary(self) -> CodeTokenizer:
        return self.tokenizer

    # --- generate -------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[Sequence[str]],
        n_samples: int,
        max_new_codes: int,
        temperature: float,
        top_p: float,
        seed: int,
        first_sample: int = 0,
    ) -> list[list[list[str]]]:
        from transformers import GenerationConfig

        out: list[list[list[str]]] = [[[] for _ in range(n_samples)] for _ in prompts]
        rows_by_len: dict[int, list[tuple[int, int, list[int]]]] = defaultdict(list)
        max_new_tokens = max_new_codes * self.tokenizer.max_code_tokens
        for p, prompt in enumerate(prompts):
            ids, _ = self._prompt_ids(prompt, max_new_tokens)
            if not ids:
                ids = [self.tokenizer.eos_id if self.tokenizer.eos_id is not None else self.tokenizer.pad_id]
            for j in range(n_samples):
                rows_by_len[len(ids)].append((p, j, ids))
        banned = sorted(self.tokenizer.special_ids - {self.tokenizer.eos_id})
        gen_cfg = GenerationConfig(
            do_sample=False,
            max_new_tokens=max_new_tokens,
            num_beams=1,
            pad_token_id=self.tokenizer.pad_id,
            eos_token_id=self.tokenizer.eos_id,
        )
        for length in sorted(rows_by_len):  # equal lengths batch without padding
            rows = rows_by_len[length]
            step = self.rows_per_batch(length + max_new_tokens)
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                input_ids = torch.tensor([r[2] for r in chunk], device=self.device)
                seeds = [sample_seed(seed, prompts[p], first_sample + j) for p, j, _ in chunk]
                result = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    generation_config=gen_cfg,
                    logits_processor=[SeededSampler(seeds, temperature, top_p, banned)],
                )
                for (p, j, _), seq in zip(chunk, result[:, length:].tolist()):
                    out[p][j] = self.tokenizer.decode(seq)[:max_new_codes]
        return out

    # --- forward passes -------------------------------------------------------------------
    def _batches(self, sequences: Sequence[Sequence[str]], keep_last: int | None = None):
        spans = [self.tokenizer.encode_with_spans(s) for s in sequences]
        encoded = [self._with_start(ids) for ids, _ in spans]
        offsets = [len(e) - len(ids) for e, (ids, _) in zip(encoded, spans)]
        if keep_last is not None:
            encoded = [e[-keep_last:] for e in encoded]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        longest = min(max((len(e) for e in encoded), default=1), self.context)
        step = self.rows_per_batch(longest, logits_rows=longest)
        for start in range(0, len(order), step):
            idx = order[start : start + step]
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), self.tokenizer.pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, : len(encoded[i])] = torch.tensor(encoded[i])
                mask[r, : len(encoded[i])] = 1
            yield (
                idx,
                [len(encoded[i]) for i in idx],
                ids.to(self.device),
                mask.to(self.device),
                [spans[i][1] for i in idx],
                [offsets[i] for i in idx],
            )

    @torch.no_grad()
    def score(self, sequences: Sequence[Sequence[str]]) -> list[ScoreResult]:
        results: list[ScoreResult | None] = [None] * len(sequences)
        for idx, lengths, ids, mask, ends, offsets in self._batches(sequences):
            logits = self._logits(ids, mask)
            logp = torch.log_softmax(logits.float(), dim=-1)
            target = ids[:, 1:]
            tok = logp[:, :-1].gather(-1, target.unsqueeze(-1)).squeeze(-1)
            p = logp[:, :-1].exp()
            mu = (p * logp[:, :-1]).sum(-1)
            var = (p * logp[:, :-1].square()).sum(-1) - mu.square()
            sd = var.clamp_min(1e-12).sqrt()
            for r, i in enumerate(idx):
                # the first code has a prediction only behind a start token put in front of it
                n, first_scored = lengths[r] - 1, 0 if offsets[r] else 1
                lo = max(offsets[r] - 1, 0)
                arrays = (x[r, lo:n].cpu().numpy().astype(np.float64) for x in (tok, mu, sd))
                results[i] = ScoreResult(*self.tokenizer.per_code(*arrays, ends[r], first_scored))
        return results  # type: ignore[return-value]

    def _logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits in one forward pass, or in half-overlapping windows past the context length."""
        if ids.shape[1] <= self.context:
            return self.model(input_ids=ids, attention_mask=mask).logits
        win, n = self.context, ids.shape[1]
        keep = win // 2  # codes of context each later window carries over
        pieces = [self.model(input_ids=ids[:, :win], attention_mask=mask[:, :win]).logits]
        covered = win
        while covered < n:
            start = covered - keep
            part = self.model(
                input_ids=ids[:, start : start + win], attention_mask=mask[:, start : start + win]
            ).logits
            pieces.append(part[:, covered - start :])
            covered = min(start + win, n)
        return torch.cat(pieces, dim=1)[:, : ids.shape[1]]

    @torch.no_grad()
    def embed(self, sequences: Sequence[Sequence[str]]) -> np.ndarray:
        dim = self.model.get_input_embeddings().embedding_dim
        out = np.zeros((len(sequences), dim), dtype=np.float64)
        for idx, lengths, ids, mask, _, _ in self._batches(sequences, keep_last=self.context):
            hidden = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[
                -1
            ]
            last = torch.tensor([n - 1 for n in lengths], device=hidden.device)
            vec = hidden[torch.arange(len(idx)), last].float().cpu().numpy()
            out[idx] = vec
        return out
