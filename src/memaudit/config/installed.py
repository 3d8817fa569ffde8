"""The tests memaudit runs, found in one place, and what configuration and gate need from them.

A test is a class (`memaudit.audits.registry.Audit`) that comes from one of two places:
- a built-in test is a subpackage of `memaudit.audits` whose `__init__` names its class `AUDIT`:
  adding one is its package (module, template, tests) and nothing else;
- an installed test is declared by another package in the `memaudit.audits` entry-point group.

Each test owns its settings (`config_section`, a `Section` dataclass, read and written under
`config_key`, by default its name in lower case: `t5:`) and its gate role (`fails_on_a_p_value`,
`confirmatory`). The audit registry, the configuration and the gate all read `test_classes()`, so
they see the same tests. Discovery imports the tests' packages when first asked, not when this
module is imported.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from importlib.metadata import entry_points

from ..errors import UserInputError
from .params import Section

BUILT_IN_PACKAGE = "memaudit.audits"  # each subpackage is one built-in test
ENTRY_POINT_GROUP = "memaudit.audits"


def _built_in() -> list[type]:
    package = importlib.import_module(BUILT_IN_PACKAGE)
    out = []
    for found in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not found.ispkg:
            continue  # the machinery the tests share: context, registry, runner, statistics …
        module = importlib.import_module(f"{BUILT_IN_PACKAGE}.{found.name}")
        test = getattr(module, "AUDIT", None)
        if test is None:
            raise UserInputError(
                f"an AUDIT class in {module.__name__}/__init__.py (each package of audits/ is a test)",
                "none",
                "set AUDIT = <the test's Audit subclass> in the package's __init__.py",
            )
        out.append(test)
    return out


def _from_entry_points() -> list[type]:
    out = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            out.append(entry.load())
        except Exception as error:  # a broken plug-in is named, not a traceback
            raise UserInputError(
                f"an importable audit at entry point {entry.name} = {entry.value}",
                f"{type(error).__name__}: {error}",
                f"fix or uninstall the package that declares it ({entry.dist.name if entry.dist else '?'})",
            ) from error
    return out


@cache
def test_classes() -> tuple[type, ...]:
    """Every test class: the built-in ones in package order, then the installed ones."""
    return tuple(_built_in() + _from_entry_points())


def config_key(test: type) -> str:
    return getattr(test, "config_key", None) or str(test.name).lower()


@cache
def installed_test_sections() -> dict[str, type[Section]]:
    """{key: section class} of every test that declares a section."""
    out: dict[str, type[Section]] = {}
    for test in test_classes():
        section = getattr(test, "config_section", None)
        if section is None:
            continue
        if not (isinstance(section, type) and issubclass(section, Section)):
            raise UserInputError(
                f"a memaudit.config.params.Section subclass as {test.__name__}.config_section",
                repr(section),
                "declare the test's settings as a frozen dataclass of param fields",
            )
        key = config_key(test)
        if key in out and out[key] is not section:
            raise UserInputError(
                "one configuration section per key", f"two installed tests claim '{key}'", "uninstall one"
            )
        out[key] = section
    return out


@cache
def gate_roles() -> dict[str, bool]:
    """{test name: confirmatory?} of every test whose FAIL rests on a p-value and so spends a share
    of the gate's error rate (`risk.fail_alpha`)."""
    return {
        test.name: bool(getattr(test, "confirmatory", False))
        for test in test_classes()
        if getattr(test, "fails_on_a_p_value", False)
    }
