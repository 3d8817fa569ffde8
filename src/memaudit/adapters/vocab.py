"""Code ↔ token-id vocabulary; codes the model never saw map to the unknown token and are counted."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserInputError
from ..tables import read_table

SPECIALS = ("pad", "bos", "eos", "unk")


@dataclass
class Vocab:
    token_to_id: Mapping[str, int]
    pad_id: int
    bos_id: int | None
    eos_id: int | None
    unk_id: int | None  # None: codes outside the vocabulary are sent as padding (and counted)
    unknown_counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.id_to_token = {i: t for t, i in self.token_to_id.items()}
        self._special_ids = {i for i in (self.pad_id, self.bos_id, self.eos_id, self.unk_id) if i is not None}

    @classmethod
    def build(cls, codes: Iterable[str]) -> Vocab:
        ordered = sorted(set(codes))
        mapping = {f"[{s.upper()}]": i for i, s in enumerate(SPECIALS)}
        mapping.update({c: i + len(SPECIALS) for i, c in enumerate(ordered)})
        return cls(mapping, pad_id=0, bos_id=1, eos_id=2, unk_id=3)

    @classmethod
    def load(cls, path: Path) -> Vocab:
        """memaudit's vocab.json ({token_to_id, special_tokens}) or a plain JSON object token -> id."""
        try:
            raw = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UserInputError(
                "a vocab.json beside the model weights",
                f"no file {path}",
                "save the code-to-token-id map as vocab.json in the model directory, or set "
                "model_input.vocab in the audit config",
            ) from None
        except json.JSONDecodeError as e:
            raise UserInputError("vocab.json in JSON", f"{path}: {e}", "rewrite vocab.json") from None
        if not isinstance(raw, dict) or not raw:
            raise UserInputError(
                'a JSON object token -> id, or {"token_to_id": ..., "special_tokens": ...}',
                type(raw).__name__,
                f"rewrite {path}",
            )
        if "token_to_id" not in raw:
            if not all(isinstance(v, int) for v in raw.values()):
                raise UserInputError(
                    "vocab.json with 'token_to_id' and 'special_tokens', or a plain token -> id object",
                    f"keys {list(raw)[:5]}",
                    'write {"token_to_id": {code: id}, "special_tokens": {...}}',
                )
            return cls.from_mapping(raw)
        sp = raw.get("special_tokens", {})
        if "pad" not in sp:
            raise UserInputError(
                "special_tokens with at least a pad id",
                repr(sp),
                'add "special_tokens": {"pad": 0, "unk": 3, ...} to vocab.json',
            )
        return cls(
            {str(k): int(v) for k, v in raw["token_to_id"].items()},
            pad_id=int(sp["pad"]),
            bos_id=sp.get("bos"),
            eos_id=sp.get("eos"),
            unk_id=sp.get("unk"),
        )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, int]) -> Vocab:
        """A bare token -> id map: padding is id 0 unless the config says otherwise, and there
        are no start, end or unknown tokens until the config names them."""
        return cls(
            {str(k): int(v) for k, v in mapping.items()}, pad_id=0, bos_id=None, eos_id=None, unk_id=None
        )

    @classmethod
    def from_table(cls, path: Path, code_column: str, index_column: str) -> Vocab:
        import polars as pl

        df = read_table(path, "a readable vocabulary table", "rewrite the table as parquet or CSV")
        missing = [c for c in (code_column, index_column) if c not in df.columns]
        if missing:
            raise UserInputError(
                f"columns {code_column!r} and {index_column!r} in {path.name}",
                f"columns {df.columns}",
                "set model_input.code_column and model_input.index_column",
            )
        if df[code_column].n_unique() != df.height or df[code_column].null_count():
            raise UserInputError(
                f"one row per token in {path.name}",
                "repeated or null tokens",
                "deduplicate the vocabulary table",
            )
        try:
            ids = df[index_column].cast(pl.Int64, strict=True).to_list()
        except Exception:
            raise UserInputError(
                f"integer ids in column {index_column!r}",
                str(df[index_column].dtype),
                "store the token ids as integers",
            ) from None
        return cls.from_mapping(dict(zip(df[code_column].cast(pl.String).to_list(), ids)))

    def with_specials(
        self,
        start: str | None = None,
        end: str | None = None,
        pad_id: int | None = None,
        unk: str | None = None,
    ) -> Vocab:
        """The same vocabulary with the config's start / end / unknown tokens and padding id."""

        def token_id(token: str | None, key: str, current: int | None) -> int | None:
            if token is None:
                return current
            if token not in self.token_to_id:
                raise UserInputError(
                    f"model_input.{key} to be a token of the vocabulary",
                    repr(token),
                    f"use the token string as it appears in the vocabulary (e.g. one of "
                    f"{sorted(self.token_to_id)[:3]})",
                )
            return self.token_to_id[token]

        return Vocab(
            self.token_to_id,
            pad_id=self.pad_id if pad_id is None else int(pad_id),
            bos_id=token_id(start, "start_token", self.bos_id),
            eos_id=token_id(end, "end_token", self.eos_id),
            unk_id=token_id(unk, "unk_token", self.unk_id),
        )

    def save(self, path: Path) -> None:
        from ..atomic import write_json

        write_json(
            Path(path),
            {
                "format": "memaudit-vocab/1",
                "token_to_id": dict(self.token_to_id),
                "special_tokens": {
                    "pad": self.pad_id,
                    "bos": self.bos_id,
                    "eos": self.eos_id,
                    "unk": self.unk_id,
                },
            },
        )

    def __len__(self) -> int:
        return max(self.token_to_id.values()) + 1

    def encode(self, codes: Sequence[str]) -> list[int]:
        out = []
        for c in codes:
            i = self.token_to_id.get(c)
            if i is None:
                self.unknown_counts[c] = self.unknown_counts.get(c, 0) + 1
                i = self.unknown_id
            out.append(i)
        return out

    @property
    def unknown_id(self) -> int:
        """The id a code outside the vocabulary is sent as: the unknown token, else padding."""
        return self.unk_id if self.unk_id is not None else self.pad_id

    def content_ids(self, ids: Iterable[int]) -> list[int]:
        """A generated run up to the end token, without special tokens."""
        out = []
        for i in ids:
            if i == self.eos_id:
                break
            if i not in self._special_ids:
                out.append(int(i))
        return out

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.id_to_token.get(i, "[UNK]") for i in self.content_ids(ids)]

    @property
    def special_ids(self) -> frozenset[int]:
        return frozenset(self._special_ids)

    def codes(self) -> list[str]:
        return [t for t, i in self.token_to_id.items() if i not in self._special_ids]
