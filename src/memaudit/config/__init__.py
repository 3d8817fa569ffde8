"""Audit configuration: typed sections (config/sections.py) parsed from YAML merged over the
defaults the sections declare. `load_config` is the one entry point; every value is checked here,
at the boundary, so the rest of the code reads `config.t5.n_samples` without re-checking."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserInputError
from ..tables import first_line
from .sections import AuditConfig

__all__ = ["AuditConfig", "default_mapping", "load_config"]

REPLACED_WHOLE = ("sensitive_groups",)  # a user mapping here is the whole list, not merged into the defaults


class _ConfigLoader(yaml.SafeLoader):
    """YAML's safe loader with numbers read the way a person writing a config means them:
    `1e-5` is a float (YAML 1.1 makes it a string), and digits with a leading zero are text, so
    ICD-9 codes such as 042 or 010 stay codes instead of becoming octal or decimal numbers."""


_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NUMBER_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$|^0x[0-9a-fA-F_]+$"),
    list("-+0123456789"),
)
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:(?:0|[1-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$"
        r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
    ),
    list("-+0123456789."),
)


def default_mapping() -> dict[str, Any]:
    """The defaults as a plain mapping (what `memaudit config` prints), installed tests' sections
    included."""
    return AuditConfig.parse({}, "").to_dict()


PRESETS = ("meds_eic_ar", "cehrgpt")


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
        user = yaml.load(path.read_text(), Loader=_ConfigLoader)  # a SafeLoader subclass
    except FileNotFoundError:
        raise UserInputError(
            "a readable YAML config file", f"{path} (not found)", "check the --config path"
        ) from None
    except yaml.YAMLError as e:
        raise UserInputError("valid YAML", f"{path}: {first_line(e)}", "fix the YAML syntax") from None
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
