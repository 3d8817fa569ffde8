"""Code ↔ token-id vocabulary; codes the model never saw map to the unknown token and are counted."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..errors import UserInputError

SPECIALS = ("pad", "bos", "eos", "unk")


@dataclass
class Vocab:
    token_to_id: Mapping[str, int]
    pad_id: int
    bos_id: int | None
    eos_id: int | None
    unk_id: int
    unknown_counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.id_to_token = {i: t for t, i in self.token_to_id.items()}
        self._special_ids = {i for i in (self.pad_id, self.bos_id, self.eos_id, self.unk_id) if i is not None}

    @classmethod
    def build(cls, codes: Iterable[str]) -> "Vocab":
        ordered = sorted(set(codes))
        mapping = {f"[{s.upper()}]": i for i, s in enumerate(SPECIALS)}
        mapping.update({c: i + len(SPECIALS) for i, c in enumerate(ordered)})
        return cls(mapping, pad_id=0, bos_id=1, eos_id=2, unk_id=3)

    @classmethod
    def load(cls, path: Path) -> "Vocab":
        try:
            raw = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UserInputError("a vocab.json beside the model weights", f"no file {path}",
                                 "save the code-to-token-id map as vocab.json in the model directory") from None
        except json.JSONDecodeError as e:
            raise UserInputError("vocab.json in JSON", f"{path}: {e}", "rewrite vocab.json") from None
        if not isinstance(raw, dict) or "token_to_id" not in raw:
            raise UserInputError("vocab.json with 'token_to_id' and 'special_tokens'", f"keys {list(raw)[:5]}",
                                 "write {\"token_to_id\": {code: id}, \"special_tokens\": {...}}")
        sp = raw.get("special_tokens", {})
        if "pad" not in sp or "unk" not in sp:
            raise UserInputError("special_tokens with at least pad and unk ids", repr(sp),
                                 "add \"special_tokens\": {\"pad\": 0, \"unk\": 3, ...} to vocab.json")
        return cls({str(k): int(v) for k, v in raw["token_to_id"].items()}, pad_id=int(sp["pad"]),
                   bos_id=sp.get("bos"), eos_id=sp.get("eos"), unk_id=int(sp["unk"]))

    def save(self, path: Path) -> None:
        from ..atomic import write_json

        write_json(Path(path), {
            "format": "memaudit-vocab/1", "token_to_id": dict(self.token_to_id),
            "special_tokens": {"pad": self.pad_id, "bos": self.bos_id, "eos": self.eos_id, "unk": self.unk_id},
        })

    def __len__(self) -> int:
        return max(self.token_to_id.values()) + 1

    def encode(self, codes: Sequence[str]) -> list[int]:
        out = []
        for c in codes:
            i = self.token_to_id.get(c)
            if i is None:
                self.unknown_counts[c] = self.unknown_counts.get(c, 0) + 1
                i = self.unk_id
            out.append(i)
        return out

    def decode(self, ids: Iterable[int]) -> list[str]:
        codes = []
        for i in ids:
            if i == self.eos_id:
                break
            if i in self._special_ids:
                continue
            codes.append(self.id_to_token.get(int(i), "[UNK]"))
        return codes

    @property
    def special_ids(self) -> frozenset[int]:
        return frozenset(self._special_ids)

    def codes(self) -> list[str]:
        return [t for t, i in self.token_to_id.items() if i not in self._special_ids]
