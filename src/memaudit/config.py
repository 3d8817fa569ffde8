"""Audit configuration: YAML merged over shipped defaults, validated at the boundary."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from .cohort.sensitive import SensitiveGroup, parse_groups
from .cohort.stream import StreamRecipe
from .errors import UserInputError

_TIER = re.compile(r"^(none|static|codes:([1-9][0-9]*))$")


@lru_cache(maxsize=1)
def _default_raw() -> dict[str, Any]:
    text = resources.files("memaudit").joinpath("data/default_config.yaml").read_text()
    return yaml.safe_load(text)


def default_raw() -> dict[str, Any]:
    return copy.deepcopy(_default_raw())


def default_sensitive_groups() -> tuple[SensitiveGroup, ...]:
    return parse_groups(_default_raw()["sensitive_groups"])


@dataclass(frozen=True)
class Tier:
    name: str

    @property
    def n_codes(self) -> int | None:
        m = _TIER.match(self.name)
        return int(m.group(2)) if m and m.group(2) else None


@dataclass(frozen=True)
class AuditConfig:
    raw: Mapping[str, Any]
    groups: tuple[SensitiveGroup, ...]
    recipe: StreamRecipe = StreamRecipe()   # section `cohort:`, built (and its hook imported) once

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def seed(self) -> int:
        return int(self.raw["seed"])

    @property
    def tiers(self) -> tuple[Tier, ...]:
        return tuple(Tier(t) for t in self.raw["tiers"])

    def section(self, name: str) -> Mapping[str, Any]:
        return self.raw[name]

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True).encode()).hexdigest()[:16]


def load_config(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> AuditConfig:
    raw = default_raw()
    if path is not None:
        path = Path(path)
        try:
            user = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise UserInputError("a readable YAML config file", f"{path} (not found)", "check the --config path") from None
        except yaml.YAMLError as e:
            raise UserInputError("valid YAML", f"{path}: {str(e).splitlines()[0]}", "fix the YAML syntax") from None
        if user is None:
            user = {}
        if not isinstance(user, dict):
            raise UserInputError("a YAML mapping at the top of the config", type(user).__name__,
                                 "write the config as key: value pairs")
        _merge(raw, user, "")
    if overrides:
        _merge(raw, dict(overrides), "")
    _validate(raw)
    # the recipe is checked and its hook imported here, before any model loads
    return AuditConfig(raw, parse_groups(raw["sensitive_groups"]), StreamRecipe.from_config(raw["cohort"]))


def _merge(base: dict[str, Any], user: Mapping[str, Any], where: str) -> None:
    for key, value in user.items():
        path = f"{where}{key}"
        if key == "sensitive_groups":
            if not isinstance(value, dict):
                raise UserInputError("a mapping of sensitive groups", repr(value), "see the shipped default config")
            base[key] = value  # replaces the defaults: a user list is the whole list
            continue
        if key not in base:
            raise UserInputError(f"a known config key (one of {sorted(base)})", f"unknown key '{path}'",
                                 "remove it or fix its spelling")
        default = base[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise UserInputError(f"a mapping under '{path}'", repr(value), f"write '{path}' as key: value pairs")
            _merge(default, value, path + ".")
        else:
            base[key] = _coerce(path, default, value)


def _coerce(path: str, default: Any, value: Any) -> Any:
    if value is None or default is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, list):
        ok = isinstance(value, list)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise UserInputError(f"'{path}' of type {type(default).__name__}", f"{value!r}",
                             f"set '{path}' to a value like {default!r}")
    return value


def _positive(raw: Mapping[str, Any], path: str, value: Any, allow_zero: bool = False) -> None:
    low_ok = value >= 0 if allow_zero else value > 0
    if not low_ok:
        raise UserInputError(f"'{path}' {'>= 0' if allow_zero else '> 0'}", repr(value), f"set '{path}' to a positive number")


def _validate(raw: Mapping[str, Any]) -> None:
    tiers = raw["tiers"]
    if not tiers:
        raise UserInputError("at least one tier", "an empty list", "use e.g. tiers: [none, static, codes:10]")
    for t in tiers:
        if not isinstance(t, str) or not _TIER.match(t):
            raise UserInputError("tiers named none, static or codes:K (K >= 1)", repr(t), "fix the tier name")
    if len(set(tiers)) != len(tiers):
        raise UserInputError("distinct tiers", repr(tiers), "remove the repeated tier")
    g = raw["generation"]
    for key in ("n_samples", "max_new_codes", "batch_size"):
        _positive(raw, f"generation.{key}", g[key])
    if not 0 < g["top_p"] <= 1:
        raise UserInputError("generation.top_p in (0, 1]", repr(g["top_p"]), "set top_p to e.g. 0.95 or 1.0")
    _positive(raw, "generation.temperature", g["temperature"])
    if raw["subjects_per_arm"] is not None:
        _positive(raw, "subjects_per_arm", raw["subjects_per_arm"])
    if raw["splits"]["members"] == raw["splits"]["non_members"]:
        raise UserInputError("different member and non-member splits", f"both '{raw['splits']['members']}'",
                             "set splits.members and splits.non_members to different split names")
    if raw["t1"]["embedding"] not in ("ppmi", "model", "icd"):
        raise UserInputError("t1.embedding one of ppmi, model, icd", repr(raw["t1"]["embedding"]), "pick one of them")
    if raw["t1"]["continuation_codes"] < 1 or raw["t1"]["extraction_k"] < 1:
        raise UserInputError("t1.continuation_codes and t1.extraction_k >= 1",
                             f"{raw['t1']['continuation_codes']}, {raw['t1']['extraction_k']}", "use positive lengths")
    if not 0 < raw["t2"]["threshold"] <= 1:
        raise UserInputError("t2.threshold in (0, 1]", repr(raw["t2"]["threshold"]), "set it to e.g. 0.3")
    if not 0 < raw["t4"]["min_k_fraction"] <= 1:
        raise UserInputError("t4.min_k_fraction in (0, 1]", repr(raw["t4"]["min_k_fraction"]), "set it to e.g. 0.2")
    if any(not 0 < f < 1 for f in raw["t4"]["fprs"]):
        raise UserInputError("t4.fprs each in (0, 1)", repr(raw["t4"]["fprs"]), "use e.g. [0.01, 0.001]")
    if raw["t3"]["folds"] < 2:
        raise UserInputError("t3.folds >= 2", repr(raw["t3"]["folds"]), "set t3.folds to 5")
    if not 0.5 < raw["statistics"]["confidence"] < 1:
        raise UserInputError("statistics.confidence in (0.5, 1)", repr(raw["statistics"]["confidence"]), "use 0.95")
    _positive(raw, "statistics.n_bootstrap", raw["statistics"]["n_bootstrap"])
    _positive(raw, "statistics.n_permutations", raw["statistics"]["n_permutations"])
    for key in ("n_samples", "n_samples_original", "age_steps", "n_null", "max_cases"):
        _positive(raw, f"t5.{key}", raw["t5"][key])
    _positive(raw, "t6.k_anonymity", raw["t6"]["k_anonymity"])
    for key in ("vocab", "code_to_tokens", "start_token", "end_token", "unk_token", "code_column", "index_column"):
        value = raw["model_input"][key]
        if value is not None and not isinstance(value, str):
            raise UserInputError(f"'model_input.{key}' as a string", repr(value), f"quote the value of model_input.{key}")
    pad = raw["model_input"]["pad_id"]
    if pad is not None and (not isinstance(pad, int) or isinstance(pad, bool) or pad < 0):
        raise UserInputError("'model_input.pad_id' a non-negative integer", repr(pad), "set e.g. pad_id: 0")
