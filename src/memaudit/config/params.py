"""Typed configuration fields: each field carries its default, its documentation and its
constraints in one place, and sections parse themselves from plain mappings (YAML or Python).

A section is a frozen dataclass whose fields are declared with `param`:

    @dataclass(frozen=True)
    class Generation(Section):
        n_samples: int = param(10, "samples per prompt", Interval(1, None))

`Generation.parse({"n_samples": 20}, "generation")` coerces and checks every value and refuses
unknown keys with a `UserInputError` that names the key; `to_dict()` gives the plain mapping back.
The reference table in docs/configuration.md is generated from the same fields.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from ..errors import UserInputError


class Constraint:
    """A rule a field's value must satisfy; `describe` is the phrase used in messages and docs."""

    def ok(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Interval(Constraint):
    """low <= value <= high (`open_low` / `open_high` make an end strict; None is unbounded)."""

    low: float | None
    high: float | None
    open_low: bool = False
    open_high: bool = False

    def ok(self, value: Any) -> bool:
        values = value if isinstance(value, (list, tuple)) else [value]
        return all(self._one(v) for v in values)

    def _one(self, v: float) -> bool:
        if self.low is not None and (v <= self.low if self.open_low else v < self.low):
            return False
        return not (self.high is not None and (v >= self.high if self.open_high else v > self.high))

    def describe(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        left = "(" if self.open_low or self.low is None else "["
        right = ")" if self.open_high or self.high is None else "]"
        return f"in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class OneOf(Constraint):
    values: tuple[Any, ...]

    def ok(self, value: Any) -> bool:
        return value in self.values

    def describe(self) -> str:
        return "one of " + ", ".join(str(v) for v in self.values)


@dataclass(frozen=True)
class Matches(Constraint):
    """Every string (or the one string) matches the regular expression."""

    pattern: str
    example: str

    def ok(self, value: Any) -> bool:
        values = value if isinstance(value, (list, tuple)) else [value]
        return all(isinstance(v, str) and re.fullmatch(self.pattern, v) for v in values)

    def describe(self) -> str:
        return f"like {self.example}"


@dataclass(frozen=True)
class NonEmpty(Constraint):
    def ok(self, value: Any) -> bool:
        return len(value) > 0

    def describe(self) -> str:
        return "non-empty"


@dataclass(frozen=True)
class Distinct(Constraint):
    def ok(self, value: Any) -> bool:
        return len(set(value)) == len(value)

    def describe(self) -> str:
        return "without repeats"


def param(default: Any, doc: str, *checks: Constraint, example: Any = None) -> Any:
    """A section field: its default, one line of documentation and its constraints. A list default
    is stored as a tuple; a mapping default is copied per instance."""
    meta = {"doc": doc, "checks": checks, "example": example}
    if isinstance(default, list):
        default = tuple(default)
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


class Section:
    """Base of every configuration section (a frozen dataclass of `param` fields)."""

    def cross_check(self, where: str) -> None:
        """Rules between fields of the section; raise UserInputError."""

    @classmethod
    def parse(cls, raw: Any, where: str) -> Any:
        if isinstance(raw, cls):
            return raw
        if not isinstance(raw, Mapping):
            raise UserInputError(
                f"a mapping under '{where}'", repr(raw), f"write '{where}' as key: value pairs"
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = [k for k in raw if k not in fields]
        if unknown:
            raise UserInputError(
                f"a known config key under '{where}' (one of {sorted(fields)})",
                f"unknown key '{_join(where, str(unknown[0]))}'",
                "remove it or fix its spelling",
            )
        hints = typing.get_type_hints(cls)
        values = {}
        for name, value in raw.items():
            path = _join(where, name)
            values[name] = coerce(hints[name], value, path)
            for check in fields[name].metadata.get("checks", ()):
                if values[name] is not None and not check.ok(values[name]):
                    raise UserInputError(
                        f"'{path}' {check.describe()}",
                        repr(value),
                        f"set '{path}' to a value {check.describe()}",
                    )
        section = cls(**values)
        section.cross_check(where)
        return section

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    docs: ClassVar[str] = ""


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _plain(value: Any) -> Any:
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def coerce(hint: Any, value: Any, path: str) -> Any:
    """`value` as the annotated type: ints widen to floats, lists become tuples, mappings become
    sections; anything else is refused with the key named."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return coerce(option, value, path)
            except UserInputError as e:
                errors.append(e)
        raise errors[0]
    if isinstance(hint, type) and issubclass(hint, Section):
        return hint.parse(value, path)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _wrong(path, f"a list of {_name(args[0])}", value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise _wrong(path, f"a list of {len(args)} items ({', '.join(_name(a) for a in args)})", value)
        return tuple(coerce(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin in (dict, Mapping, typing.Mapping):
        key_t, val_t = args
        if not isinstance(value, Mapping):
            raise _wrong(path, "a mapping", value)
        return {coerce(key_t, k, path): coerce(val_t, v, _join(path, str(k))) for k, v in value.items()}
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise _wrong(path, "true or false", value)
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _wrong(path, "a whole number", value)
        return value
    if hint is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            raise _wrong(path, "a number", value)
        return float(value)
    if hint is str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # an unquoted code such as 305: the digits the user wrote
        if not isinstance(value, str):
            raise _wrong(path, "a string (quote it in YAML)", value)
        return value
    raise TypeError(f"unsupported config type {hint!r} at {path}")


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))


def _wrong(path: str, expected: str, value: Any) -> UserInputError:
    return UserInputError(f"'{path}' as {expected}", repr(value), f"set '{path}' to {expected}")
