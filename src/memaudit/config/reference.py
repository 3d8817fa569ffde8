"""The configuration reference, generated from the sections' fields: the commented default YAML
(`memaudit config`) and the Markdown table of docs/configuration.md
(`python -m memaudit.config.reference > docs/configuration.md`)."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator
from typing import Any

import yaml

from . import default_mapping
from .installed import BUILT_IN_PACKAGE, installed_test_sections
from .params import Section
from .sections import AuditConfig


def _fields(section: type[Section], where: str = "") -> Iterator[tuple[str, Any, dataclasses.Field, Any]]:
    """(dotted key, type, field, default) of every leaf, depth first; sections expand in place."""
    hints = typing.get_type_hints(section)
    for f in dataclasses.fields(section):  # type: ignore[arg-type]
        if section is AuditConfig and f.name == "installed_sections":
            continue  # written under each test's own key: `installed` below
        key = f"{where}{f.name}"
        hint = hints[f.name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if isinstance(hint, type) and issubclass(hint, Section):
            yield key, hint, f, None
            yield from _fields(hint, key + ".")
        else:
            yield key, hint, f, default


def _type_name(hint: Any) -> str:
    return (
        str(hint)
        .replace("typing.", "")
        .replace("memaudit.config.sections.", "")
        .replace("<class '", "")
        .replace("'>", "")
    )


def markdown() -> str:
    """docs/configuration.md: every key with its default, constraints and meaning."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `src/memaudit/config/sections.py` and each test's `settings.py` by",
        "`python -m memaudit.config.reference`;",
        "a test checks that this page matches the code. `memaudit audit --config audit.yaml` merges the",
        "file over these defaults (mappings key by key; `sensitive_groups` is replaced whole). Unknown keys,",
        "wrong types and values outside the constraints are refused with exit code 2. Numbers read as",
        "written: `1e-5` is a number, and digits with a leading zero stay text, so ICD-9 codes such as",
        "`042` need no quotes.",
        "",
        "| key | default | constraint | meaning |",
        "|---|---|---|---|",
    ]
    built_in_tests = {  # another package's test documents its own keys
        key: section
        for key, section in installed_test_sections().items()
        if section.__module__.startswith(BUILT_IN_PACKAGE + ".")
    }
    leaves = [
        *_fields(AuditConfig),
        *(field for key, section in built_in_tests.items() for field in _fields(section, key + ".")),
    ]
    for key, hint, f, default in leaves:
        if default is None and isinstance(hint, type) and issubclass(hint, Section):
            continue
        shown = "" if key == "sensitive_groups" else f"`{_plain(default)}`"
        checks = "; ".join(c.describe() for c in f.metadata.get("checks", ()))
        lines.append(f"| `{key}` | {shown} | {checks} | {f.metadata.get('doc', '')} |")
    lines += [
        "",
        "The default `sensitive_groups`:",
        "",
        "```yaml",
        yaml.safe_dump(
            {"sensitive_groups": AuditConfig().to_dict()["sensitive_groups"]}, sort_keys=False
        ).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return "null" if value is None else value


def default_yaml() -> str:
    """The defaults as YAML, each key followed by its documentation as a comment; installed tests'
    sections follow the built-in ones under their own keys."""
    docs = {key: f.metadata.get("doc", "") for key, _, f, _ in _fields(AuditConfig)}
    for key, section in installed_test_sections().items():
        docs[key] = section.docs or f"settings of the installed test {key}"
        docs |= {k: f.metadata.get("doc", "") for k, _, f, _ in _fields(section, key + ".")}
    text = yaml.safe_dump(default_mapping(), sort_keys=False, width=120)
    out, stack = ["# memaudit audit configuration: the defaults. Copy what you change into audit.yaml."], []
    for line in text.splitlines():
        indent = (len(line) - len(line.lstrip())) // 2
        key = line.strip().split(":", 1)[0]
        stack = stack[:indent] + [key]
        doc = docs.get(".".join(stack))
        out.append(f"{line}  # {doc}" if doc and not line.strip().startswith("-") else line)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
