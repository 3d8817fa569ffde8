"""The audit registry: every test is an `Audit` that declares what it needs; the runner loops
over the registry (audits/runner.py).

    class TrajectoryAudit(Audit):
        name, title = "T1", "Trajectory memorization"
        needs = frozenset({GENERATE})
        config_section = T1                 # its settings, under `t1:`
        fails_on_a_p_value = True           # its gate role

        def requests(self, ctx, earlier): ...
        def run(self, ctx, responses, earlier): ...

`earlier` maps the name of every test that already ran to its TestResult; a test reads only the
ones it declares in `reads` (their `handoff`), and runs after them.

A test is found in one of two places (config/installed.py): a built-in test is a package of
`memaudit/audits/` whose `__init__` sets `AUDIT = TrajectoryAudit`, with its report fragment in
the package's `templates/report.html.j2`; another package declares

    [project.entry-points."memaudit.audits"]
    t7 = "my_package.verbatim:VerbatimAudit"

and is audited with the built-in tests once installed, appearing in report.json, the HTML and
`memaudit check` (examples/memaudit-verbatim is one).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, ClassVar

from ..config.installed import (  # the one discovery of tests (built-in packages, entry points)
    BUILT_IN_PACKAGE,
    test_classes,
)
from ..errors import UserInputError
from ..prompts.requests import Request, Responses
from ..published import Headline
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
    # the gate: a test whose FAIL rests on a p-value spends a share of `risk.gate_alpha` (the
    # confirmatory one `risk.gate_t5_share` of it, the others equal parts of the rest); the others
    # fail only on effect sizes far beyond what a model without the signal reaches, or only warn
    fails_on_a_p_value: ClassVar[bool] = False
    confirmatory: ClassVar[bool] = False

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

    def rests_on(self, result: TestResult, status: str) -> list[str]:
        """The lines of `risk.rests_on` when this test's `status` sets the risk level: by default
        the first sentence of its summary."""
        return [f"{result.name} {status}: {result.summary.split('. ')[0].rstrip('.')}."]

    def rejudge(self, result: TestResult, ctx: AuditContext, drawn: Mapping[Any, int]) -> str | None:
        """The status on a half-sample of the audited subjects (`drawn`: subject id → times drawn),
        judged from the test's own recorded table. stability.py calls it only for a test that
        overrides it (T5) and runs every other test again on the half-sample's responses; this
        default is never called."""
        return None

    def headline(self, report: Mapping[str, Any]) -> list[Headline]:
        """The numbers a model registry (`--mlflow`) and a model card (`memaudit card`, rates only)
        show for this test, read from report.json."""
        return []

    def card_lines(self, report: Mapping[str, Any], status: str) -> list[str]:
        """The model card's "what the verdict rests on" when this test's `status` sets the level:
        in words, without counts of patients."""
        return [f"{self.name} ({report['tests'][self.name]['title']}) {status}"]

    def card_paragraphs(self, report: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(heading, text) paragraphs this test adds to the model card, counts of patients as
        `published.patients` prints them."""
        return []

    def report_figures(self, report: Mapping[str, Any]) -> dict[str, Any]:
        """What this test's report fragment (`templates/report.html.j2` beside its module) draws
        beyond report.json: figures as markup, by name. Read from report.json alone."""
        return {}


_REGISTRY: dict[str, type[Audit]] = {}


def register(cls: type[Audit]) -> type[Audit]:
    """Add a test to the registry under its name (a built-in test's package and an installed
    package's entry point are found without it; see config/installed.py)."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two audits named {cls.name}")
    _REGISTRY[cls.name] = cls
    return cls


def registered() -> list[Audit]:
    """One instance of every test, built-in ones and installed ones, in name order (T1 … T6, then
    others)."""
    for found in test_classes():
        if not (isinstance(found, type) and issubclass(found, Audit)):
            raise UserInputError(
                "a subclass of memaudit.audits.registry.Audit",
                f"{found!r} ({getattr(found, '__module__', '?')})",
                "point the entry point (or a built-in package's AUDIT) at the audit class",
            )
        register(found)
    return [_REGISTRY[name]() for name in sorted(_REGISTRY)]


def package_of(audit: Audit) -> str:
    """The package the test's class lives in (where its `templates/` are)."""
    return sys.modules[type(audit).__module__].__package__ or type(audit).__module__


def is_built_in(audit: Audit) -> bool:
    """Whether the test ships in memaudit (a package of memaudit/audits/)."""
    return package_of(audit).startswith(BUILT_IN_PACKAGE + ".")


def versions() -> dict[str, str]:
    """Each registered test's version, by name."""
    return {audit.name: audit.version for audit in registered()}


def method_texts() -> dict[str, str]:
    """Each registered test's method text, by name."""
    return {audit.name: audit.method for audit in registered()}
