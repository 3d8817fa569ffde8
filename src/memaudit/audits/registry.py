"""The audit registry: each test declares what it needs and registers itself; the runner loops
over the registry (audits/runner.py).

    @register
    class TrajectoryAudit(Audit):
        name, title = "T1", "Trajectory memorization"
        needs = frozenset({GENERATE})

        def requests(self, ctx, earlier): ...
        def run(self, ctx, responses, earlier): ...

`earlier` maps the name of every test that already ran to its TestResult; a test reads only the
ones it declares in `reads` (their `handoff`), and runs after them.

Tests of other packages are found through the `memaudit.audits` entry-point group: a package that
declares

    [project.entry-points."memaudit.audits"]
    t7 = "my_package.verbatim:VerbatimAudit"

is audited with the built-in tests once installed, and appears in report.json, the HTML and
`memaudit check` (examples/memaudit-verbatim is one).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import ClassVar

from ..config.installed import ENTRY_POINT_GROUP  # one group for the audits and their config sections
from ..errors import UserInputError
from ..prompts.requests import Request, Responses
from .context import AuditContext
from .coverage import Coverage
from .result import TestResult

Earlier = Mapping[str, TestResult]


class Audit:
    """One test of the audit: pure functions of the context and the model's responses."""

    name: ClassVar[str]
    title: ClassVar[str]
    needs: ClassVar[frozenset[str]] = frozenset()  # adapter capabilities; missing ones skip the test
    reads: ClassVar[tuple[str, ...]] = ()  # earlier tests whose hand-offs it reads
    asks_new_prompts: ClassVar[bool] = (
        False  # its prompts depend on earlier results (needs an adaptive adapter)
    )
    method: ClassVar[str] = ""  # what the test measures and how it judges, for the report's Methods
    # the version of the test's decision rule, in report.json: bumped whenever the rule changes, so
    # two reports are comparable test by test or known not to be (`memaudit compare` refuses them)
    version: ClassVar[str] = "1"
    # the test's own settings: a frozen dataclass of `memaudit.config.params.param` fields, read and
    # written under `config_key` (default: the name in lower case, `t7:`) and read as `ctx.config.t7`
    config_section: ClassVar[type | None] = None
    config_key: ClassVar[str | None] = None

    def coverage(self, ctx: AuditContext) -> Coverage:
        """What the test has to work on in this cohort, known before any model call."""
        return Coverage(True)

    def requests(self, ctx: AuditContext, earlier: Earlier) -> list[Request]:
        """The model calls the test needs; the runner answers them once, with every other test's."""
        return []

    def samples_at_most(self, ctx: AuditContext) -> int | None:
        """For a test whose requests depend on earlier results (it `reads` them), the most samples
        it may ask for, known before any model call (`memaudit check` states it); None otherwise."""
        return None

    def follow_up(self, ctx: AuditContext, earlier: Earlier, responses: Responses) -> list[Request]:
        """More calls once the earlier ones are answered (the next round of sequential sampling);
        the runner asks again until no test wants more."""
        return []

    def run(self, ctx: AuditContext, responses: Responses, earlier: Earlier) -> TestResult:
        raise NotImplementedError


_REGISTRY: dict[str, type[Audit]] = {}
BUILT_IN = ("t1", "t2", "t3", "t4", "t5", "t6")  # packages of audits/, one per built-in test


def register(cls: type[Audit]) -> type[Audit]:
    """Class decorator: add the test to the registry under its name."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two audits named {cls.name}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_installed() -> None:
    """Register the tests other installed packages declare in the entry-point group."""
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found = entry.load()
        except Exception as error:  # a broken plug-in is named, not a traceback
            raise UserInputError(
                f"an importable audit at entry point {entry.name} = {entry.value}",
                f"{type(error).__name__}: {error}",
                f"fix or uninstall the package that declares it ({entry.dist.name if entry.dist else '?'})",
            ) from error
        if not (isinstance(found, type) and issubclass(found, Audit)):
            raise UserInputError(
                f"a subclass of memaudit.audits.registry.Audit at entry point {entry.name}",
                repr(found),
                "point the entry point at the audit class",
            )
        register(found)


def registered() -> list[Audit]:
    """One instance of every registered test, built-in ones and installed ones, in name order
    (T1 … T6, then others)."""
    for module in BUILT_IN:
        importlib.import_module(f"{__package__}.{module}")
    _load_installed()
    return [_REGISTRY[name]() for name in sorted(_REGISTRY)]


def versions() -> dict[str, str]:
    """Each registered test's version, by name."""
    return {audit.name: audit.version for audit in registered()}


def method_texts() -> dict[str, str]:
    """Each registered test's method text, by name."""
    return {audit.name: audit.method for audit in registered()}
