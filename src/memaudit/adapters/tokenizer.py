"""MEDS codes ↔ a model's token ids, for vocabularies that are not 1:1 with codes.

The vocabulary (token → id) can come from vocab.json, a parquet/CSV table, or a function; a
mapping hook `code_to_tokens(code) -> list[str]` handles codes split into several tokens; start,
end, padding and unknown tokens are configurable (config `model_input:`). Example with the hook
`lambda c: c.split("|")` and codes "ICD|I10", "ICD|E11":

    encode(["ICD|I10", "ICD|E11"]) = ids of [ICD, I10, ICD, E11]; spans = [2, 4]
    decode(those ids)               = ["ICD|I10", "ICD|E11"]   (longest match over known codes)

A code's log-probability is the sum of its tokens' (chain rule); Min-K%++'s per-code mean and
variance are the sums of its tokens' (treating the tokens' distributions as independent).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserInputError
from ..hooks import load_hook
from .vocab import Vocab

CodeToTokens = Callable[[str], Sequence[str]]


class CodeTokenizer:
    def __init__(self, vocab: Vocab, code_to_tokens: CodeToTokens | None = None) -> None:
        self.vocab = vocab
        self.code_to_tokens = code_to_tokens
        self.token_to_id = vocab.token_to_id
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = (
            vocab.pad_id,
            vocab.bos_id,
            vocab.eos_id,
            vocab.unk_id,
        )
        self.unknown_counts: dict[str, int] = {}
        self._ids: dict[str, tuple[int, ...]] = {}
        self._known: dict[str, bool] = {}
        self._trie: dict = {}
        self.max_code_tokens = 1

    @property
    def one_to_one(self) -> bool:
        return self.code_to_tokens is None

    @property
    def special_ids(self) -> frozenset[int]:
        return self.vocab.special_ids

    def codes(self) -> list[str]:
        return self.vocab.codes()

    def tokens(self) -> list[str]:
        """Every token string, special tokens included."""
        return list(self.token_to_id)

    def unknown_token(self) -> str | None:
        return None if self.unk_id is None else self.vocab.id_to_token.get(self.unk_id)

    def identity(self) -> str:
        """What changes the model's input: the token table, the special ids and the mapping hook."""
        hook = (
            ""
            if self.code_to_tokens is None
            else f"{self.code_to_tokens.__module__}.{self.code_to_tokens.__qualname__}"
        )
        table = json.dumps(sorted(self.token_to_id.items()))
        return hashlib.sha256(
            f"{table}|{self.pad_id}|{self.bos_id}|{self.eos_id}|{self.unk_id}|{hook}".encode()
        ).hexdigest()[:16]

    def _code_ids(self, code: str) -> tuple[int, ...]:
        ids = self._ids.get(code)
        if ids is None:
            tokens = [code] if self.code_to_tokens is None else list(self.code_to_tokens(code))
            known = bool(tokens) and all(t in self.token_to_id for t in tokens)
            ids = tuple(self.token_to_id[t] for t in tokens) if known else (self.vocab.unknown_id,)
            self._ids[code], self._known[code] = ids, known
            if known and not self.one_to_one:
                self._add_to_trie(code, ids)
        return ids

    def _add_to_trie(self, code: str, ids: tuple[int, ...]) -> None:
        node = self._trie
        for i in ids:
            node = node.setdefault(i, {})
        node.setdefault(None, code)
        self.max_code_tokens = max(self.max_code_tokens, len(ids))

    def knows(self, code: str) -> bool:
        self._code_ids(code)
        return self._known[code]

    def learn(self, codes: Iterable[str]) -> None:
        """Make `codes` decodable: generated token runs decode to the longest known code."""
        for c in codes:
            self._code_ids(c)

    def encode_with_spans(self, codes: Sequence[str]) -> tuple[list[int], list[int]]:
        """Token ids and, per code, the index one past its last token."""
        ids: list[int] = []
        ends: list[int] = []
        for c in codes:
            part = self._code_ids(c)
            if not self._known[c]:
                self.unknown_counts[c] = self.unknown_counts.get(c, 0) + 1
            ids.extend(part)
            ends.append(len(ids))
        return ids, ends

    def encode(self, codes: Sequence[str]) -> list[int]:
        return self.encode_with_spans(codes)[0]

    def decode(self, ids: Iterable[int]) -> list[str]:
        if self.one_to_one:
            return self.vocab.decode(ids)
        ids = self.vocab.content_ids(ids)
        out, pos = [], 0
        while pos < len(ids):
            node, match, end = self._trie, None, pos
            for k in range(pos, len(ids)):
                node = node.get(ids[k])
                if node is None:
                    break
                if None in node:
                    match, end = node[None], k + 1
            if match is None:  # a token run no audited code explains: keep the token itself
                out.append(self.vocab.id_to_token.get(ids[pos], "[UNK]"))
                pos += 1
            else:
                out.append(match)
                pos = end
        return out

    def per_code(
        self, logprobs: np.ndarray, mean: np.ndarray, std: np.ndarray, ends: Sequence[int], first_scored: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Token-level arrays (position t scores token t + first_scored) → code-level arrays, for
        the codes whose tokens are all scored."""
        if self.one_to_one:
            return logprobs, mean, std
        lp, mu, var = [], [], []
        start = 0
        for end in ends:
            lo, hi = start - first_scored, end - first_scored
            if lo >= 0:
                lp.append(logprobs[lo:hi].sum())
                mu.append(mean[lo:hi].sum())
                var.append(np.square(std[lo:hi]).sum())
            start = end
        return np.asarray(lp), np.asarray(mu), np.sqrt(np.asarray(var))


def load_tokenizer(model_dir: Path, section: Mapping[str, Any] | None = None) -> CodeTokenizer:
    """The tokenizer the config's `model_input:` section describes, for the model in `model_dir`."""
    section = section or {}
    source = section.get("vocab")
    if source is None:
        vocab = Vocab.load(Path(model_dir) / "vocab.json")
    elif ":" in str(source) and not Path(str(source)).exists():
        mapping = load_hook(source, "model_input.vocab")(Path(model_dir))
        vocab = Vocab.from_mapping(_checked_mapping(mapping, str(source)))
    else:
        path = _resolve(Path(source), Path(model_dir))
        if path.suffix in (".parquet", ".csv"):
            vocab = Vocab.from_table(
                path, section.get("code_column") or "code", section.get("index_column") or "index"
            )
        else:
            vocab = Vocab.load(path)
    vocab = vocab.with_specials(
        start=section.get("start_token"),
        end=section.get("end_token"),
        pad_id=section.get("pad_id"),
        unk=section.get("unk_token"),
    )
    hook = section.get("code_to_tokens")
    return CodeTokenizer(vocab, load_hook(hook, "model_input.code_to_tokens") if hook else None)


def _resolve(path: Path, model_dir: Path) -> Path:
    for candidate in (path, model_dir / path):
        if candidate.exists():
            return candidate
    raise UserInputError(
        "model_input.vocab naming an existing file",
        f"{path} (not found, nor under {model_dir})",
        "give the path of the vocabulary file, absolute or relative to the model directory",
    )


def _checked_mapping(mapping: Any, source: str) -> dict[str, int]:
    if not isinstance(mapping, Mapping) or not mapping:
        raise UserInputError(
            f"{source} to return a non-empty mapping token -> id",
            type(mapping).__name__,
            "return a dict such as {'I10': 4, ...}",
        )
    try:
        return {str(k): int(v) for k, v in mapping.items()}
    except (TypeError, ValueError):
        raise UserInputError(
            f"{source} to map tokens to integer ids", repr(next(iter(mapping.items()))), "return integer ids"
        ) from None
