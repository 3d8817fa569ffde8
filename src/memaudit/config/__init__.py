"""Audit configuration: typed sections (config/sections.py) parsed from YAML merged over the
defaults the sections declare. `load_config` is the one entry point; every value is checked here,
at the boundary, so the rest of the code reads `config.t5.n_samples` without re-checking."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserInputError
from .sections import AuditConfig

__all__ = ["AuditConfig", "default_mapping", "load_config"]

REPLACED_WHOLE = ("sensitive_groups",)  # a user mapping here is the whole list, not merged into the defaults


def default_mapping() -> dict[str, Any]:
    """The defaults as a plain mapping (what `memaudit config` prints)."""
    return AuditConfig().to_dict()


PRESETS = ("meds_eic_ar",)


def preset_path(name: str) -> Path:
    """The shipped configuration of a known stack (`memaudit audit --preset NAME`)."""
    if name not in PRESETS:
        raise UserInputError(f"a preset, one of {', '.join(PRESETS)}", repr(name), "pick one of them")
    return Path(str(resources.files("memaudit").joinpath(f"data/presets/{name}.yaml")))


def load_config(
    path: Path | None = None, overrides: Mapping[str, Any] | None = None, preset: str | None = None
) -> AuditConfig:
    """The defaults, then a preset's settings, then the YAML file at `path`, then `overrides` (a
    mapping in the same shape), each merged over the last. Raises UserInputError naming the key of
    any bad value."""
    raw = default_mapping()
    if preset is not None:
        _merge(raw, _read_yaml(preset_path(preset)))
    if path is not None:
        _merge(raw, _read_yaml(Path(path)))
    if overrides:
        _merge(raw, copy.deepcopy(dict(overrides)))
    return AuditConfig.parse(raw, "")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        user = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserInputError(
            "a readable YAML config file", f"{path} (not found)", "check the --config path"
        ) from None
    except yaml.YAMLError as e:
        raise UserInputError(
            "valid YAML", f"{path}: {str(e).splitlines()[0]}", "fix the YAML syntax"
        ) from None
    if user is None:
        return {}
    if not isinstance(user, dict):
        raise UserInputError(
            "a YAML mapping at the top of the config",
            type(user).__name__,
            "write the config as key: value pairs",
        )
    return user


def _merge(base: dict[str, Any], user: Mapping[str, Any]) -> None:
    """Merge `user` into `base` in place: mappings merge key by key, anything else replaces.
    Unknown keys are kept so that parsing names them."""
    for key, value in user.items():
        if isinstance(base.get(key), dict) and isinstance(value, dict) and key not in REPLACED_WHOLE:
            _merge(base[key], value)
        else:
            base[key] = value
