"""Serve a CEHR-GPT model to memaudit from the Python that has CEHR-GPT installed.

CEHR-GPT (`cehrgpt`, with `cehrbert`) pins transformers and torch versions that cannot share an
environment with memaudit's, and its model type is not a transformers built-in. So memaudit does
not rebuild its forward pass: it runs this file as a script in CEHR-GPT's own environment, which
loads the model and tokenizer with CEHR-GPT's classes and answers requests, one JSON object per
line on stdin and stdout:

    python cehrgpt_bridge.py MODEL_DIR SAMPLER_PY
    → {"ready": {"vocab": [...], "markers": [...], "gap_days": {...}, "context": 512, ...}}
    ← {"op": "score", "sequences": [[token, ...], ...], "ages": [[int, ...] or null, ...]}
    → {"logprobs": [[...]], "mean": [[...]], "std": [[...]]}   (tokens 1..n-1: no start token)
    ← {"op": "generate", "prompts": [[token, ...]], "seeds": [[int, ...]], "max_new": 48,
       "temperature": 1.0, "top_p": 0.95}
    → {"samples": [[[token, ...], ...], ...]}
    ← {"op": "embed", "sequences": [...], "ages": [...]}
    → {"vectors": [[...]]}

Scoring passes each token's age as CEHR-GPT's data pipeline does (`ages`, its position input);
a sequence without given ages gets the ages CEHR-GPT's own sampler constructs (its `age:N` token
advanced by the day-gap tokens). Generation is CEHR-GPT's own `generate` (its sampler advances
ages from the time tokens it draws) with greedy decoding turned into seeded sampling by memaudit's
`SeededSampler` (loaded from SAMPLER_PY, a file that needs only torch), so a sample depends only
on (seed, prompt, sample index), as with every memaudit backend. This file imports nothing of
memaudit's package: it runs where memaudit is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

# Run as a script, this file's folder would come first on sys.path and its neighbours (cehrgpt.py,
# tokenizer.py...) would shadow the packages CEHR-GPT imports.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def load_sampler(path: str):
    spec = importlib.util.spec_from_file_location("memaudit_sampler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SeededSampler


class Bridge:
    def __init__(self, model_dir: str, sampler_path: str) -> None:
        import torch
        from cehrgpt.gpt_utils import (
            construct_age_sequence,
            extract_time_interval_in_days,
            is_artificial_token,
            is_att_token,
        )
        from cehrgpt.models.hf_cehrgpt import CEHRGPT2LMHeadModel
        from cehrgpt.models.tokenization_hf_cehrgpt import CehrGptTokenizer

        self.torch = torch
        self.tokenizer = CehrGptTokenizer.from_pretrained(model_dir)
        self.model = CEHRGPT2LMHeadModel.from_pretrained(model_dir).eval()
        self.sampler = load_sampler(sampler_path)
        vocab = self.tokenizer.get_vocab()
        self.id_to_token = {i: t for t, i in vocab.items()}
        self.pad_id = self.tokenizer.pad_token_id
        self.end_id = self.tokenizer.end_token_id
        self.include_values = bool(getattr(self.model.cehrgpt, "include_values", False))
        gaps = {}
        for t in vocab:
            if is_att_token(t):
                try:
                    gaps[t] = float(extract_time_interval_in_days(t))
                except ValueError:
                    continue
        self.info = {
            "vocab": sorted(vocab, key=vocab.get),
            "gap_days": gaps,
            "markers": sorted(t for t in vocab if is_artificial_token(t) and t not in gaps),
            "special": {
                "pad": self.id_to_token.get(self.pad_id),
                "end": self.id_to_token.get(self.end_id),
                "unknown": self.id_to_token.get(self.tokenizer.oov_token_id),
            },
            "context": int(self.model.config.n_positions),
            "include_values": self.include_values,
            "hidden_size": int(self.model.config.n_embd),
        }
        self._construct_ages = construct_age_sequence

    # --- forward passes ------------------------------------------------------------------------
    def _batch(self, sequences, ages):
        torch = self.torch
        encoded = [list(self.tokenizer.encode(list(s))) for s in sequences]
        ages = [
            a if a is not None else [int(x) for x in self._construct_ages(list(s))]
            for s, a in zip(sequences, ages)
        ]
        width = max(len(e) for e in encoded)
        ids = torch.full((len(encoded), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        age = torch.zeros((len(encoded), width), dtype=torch.long)
        for r, (e, a) in enumerate(zip(encoded, ages)):
            ids[r, : len(e)] = torch.tensor(e)
            mask[r, : len(e)] = 1
            age[r, : len(e)] = torch.tensor(a[: len(e)])
        extra = {}
        if self.include_values:  # as CEHR-GPT's generate does when no values are given
            extra = {
                "value_indicators": torch.zeros_like(ids, dtype=torch.bool),
                "values": torch.zeros_like(ids),
            }
        return encoded, ids, mask, age, extra

    def score(self, sequences, ages):
        torch = self.torch
        out = {"logprobs": [], "mean": [], "std": []}
        with torch.no_grad():
            encoded, ids, mask, age, extra = self._batch(sequences, ages)
            logits = self.model(input_ids=ids, attention_mask=mask, ages=age, **extra).logits
            logp = torch.log_softmax(logits.float(), dim=-1)
            tok = logp[:, :-1].gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            p = logp[:, :-1].exp()
            mu = (p * logp[:, :-1]).sum(-1)
            sd = ((p * logp[:, :-1].square()).sum(-1) - mu.square()).clamp_min(1e-12).sqrt()
            for r, e in enumerate(encoded):
                n = len(e)
                for key, x in (("logprobs", tok), ("mean", mu), ("std", sd)):
                    out[key].append(x[r, : n - 1].tolist())
        return out

    def embed(self, sequences, ages):
        torch = self.torch
        with torch.no_grad():
            encoded, ids, mask, age, extra = self._batch(sequences, ages)
            out = self.model(input_ids=ids, attention_mask=mask, ages=age, output_hidden_states=True, **extra)
            hidden = out.hidden_states[-1]
            last = torch.tensor([len(e) - 1 for e in encoded])
            return {"vectors": hidden[torch.arange(len(encoded)), last].float().tolist()}

    # --- sampling ------------------------------------------------------------------------------
    def generate(self, prompts, seeds, max_new, temperature, top_p):
        """Each prompt's samples with CEHR-GPT's own generate; rows of equal length batch together
        (no padding). With values on, its sampler also draws each lab value from torch's global
        generator, so each sample runs alone, seeded by its own seed."""
        torch = self.torch
        from transformers import GenerationConfig

        special = {self.tokenizer.pad_token_id, self.tokenizer.oov_token_id, self.tokenizer.start_token_id}
        banned = sorted(i for i in special if i is not None and i != self.end_id)
        config = GenerationConfig(
            do_sample=False,
            max_new_tokens=max_new,
            num_beams=1,
            pad_token_id=self.pad_id,
            eos_token_id=self.end_id,
            bos_token_id=self.end_id,
        )
        rows = [
            (p, j, list(self.tokenizer.encode(list(prompt))))
            for p, prompt in enumerate(prompts)
            for j in range(len(seeds[p]))
        ]
        out = [[None] * len(s) for s in seeds]
        groups = {}
        for row in rows:
            key = (len(row[2]), (row[0], row[1]) if self.include_values else None)
            groups.setdefault(key, []).append(row)
        with torch.no_grad():
            for (length, _), chunk in sorted(groups.items(), key=lambda kv: kv[0][0]):
                chunk_seeds = [seeds[p][j] for p, j, _ in chunk]
                if self.include_values:
                    torch.manual_seed(chunk_seeds[0])
                input_ids = torch.tensor([ids for _, _, ids in chunk], dtype=torch.long)
                result = self.model.generate(
                    input_ids=input_ids,
                    generation_config=config,
                    cehrgpt_tokenizer=self.tokenizer,
                    logits_processor=[self.sampler(chunk_seeds, temperature, top_p, banned)],
                )
                sequences = result.sequences if hasattr(result, "sequences") else result
                for (p, j, _), seq in zip(chunk, sequences[:, length:].tolist()):
                    tokens = []
                    for i in seq:
                        if i in (self.end_id, self.pad_id):
                            break
                        tokens.append(self.id_to_token.get(i, self.info["special"]["unknown"]))
                    out[p][j] = tokens
        return {"samples": out}


def serve(bridge: Bridge) -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            op = request.pop("op")
            if op == "score":
                reply = bridge.score(request["sequences"], request["ages"])
            elif op == "embed":
                reply = bridge.embed(request["sequences"], request["ages"])
            elif op == "generate":
                reply = bridge.generate(
                    request["prompts"],
                    request["seeds"],
                    request["max_new"],
                    request["temperature"],
                    request["top_p"],
                )
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception as e:  # the caller turns it into one line for the user
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def main() -> None:
    model_dir, sampler_path = sys.argv[1], sys.argv[2]
    try:
        bridge = Bridge(model_dir, sampler_path)
    except ImportError as e:
        sys.stdout.write(json.dumps({"error": f"cehrgpt not importable: {e}"}) + "\n")
        return
    except Exception as e:  # a directory of another stack, missing files
        sys.stdout.write(json.dumps({"error": f"{type(e).__name__}: {str(e)[:300]}"}) + "\n")
        return
    sys.stdout.write(json.dumps({"ready": bridge.info}) + "\n")
    sys.stdout.flush()
    serve(bridge)


if __name__ == "__main__":
    main()
