"""report.html: one self-contained page rendered from report.json alone (no recomputation).

The page is Jinja2 templates (autoescaped, strict): `page.html.j2` includes the report's own
sections (`report/templates/sections/`) and, between them, one fragment per test in the registry's
order. A test's fragment is the `templates/report.html.j2` of its own package, drawn with what its
`Audit.report_figures` computes from report.json (inline SVG, passed in as markup); a test without
one gets the generic fragment (its finding and scalar metrics)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import jinja2

from ..atomic import write_text
from ..audits.registry import Audit, method_texts, package_of, registered
from ..templating import template_environment
from .json_report import gate_sentence, scored_sentence

VERDICT_CLASS = {"memorized": "fail", "likely_memorized": "warn"}
# the report's own sections, before and after the tests' fragments
BEFORE_TESTS = ("sections/executive.html.j2", "sections/coverage.html.j2")
AFTER_TESTS = (
    "sections/vocabulary.html.j2",
    "sections/methods.html.j2",
    "sections/model_input.html.j2",
    "sections/sampling.html.j2",
    "sections/flagged.html.j2",
)
GENERIC_FRAGMENT = "tests/generic.html.j2"
FRAGMENT = "report.html.j2"  # in a test package's templates/


def _shares(by: dict) -> str:
    """{"medium": 0.9, "low": 0.1} as "medium 90%, low 10%"."""
    return ", ".join(f"{k} {v:.0%}" for k, v in by.items())


def _has_fragment(audit: Audit) -> bool:
    return resources.files(package_of(audit)).joinpath("templates", FRAGMENT).is_file()


@cache
def _environment() -> jinja2.Environment:
    """The shared environment, with each test's fragment reachable as `<test name>/report.html.j2`."""
    environment = template_environment("memaudit.report")
    by_test = {
        a.name: jinja2.PackageLoader(package_of(a), "templates") for a in registered() if _has_fragment(a)
    }
    environment.loader = jinja2.ChoiceLoader([environment.loader, jinja2.PrefixLoader(by_test)])
    environment.filters.update(
        shares=_shares,
        gate_sentence=gate_sentence,
        capitalize_first=lambda text: text[:1].upper() + text[1:],
    )
    return environment


def _fragments(report: dict) -> list[dict]:
    """Each test of the report in the registry's order (then any the registry lacks): its template,
    its entry and what its fragment draws."""
    audits = {a.name: a for a in registered()}
    names = [n for n in audits if n in report["tests"]] + [n for n in report["tests"] if n not in audits]
    out = []
    for name in names:
        audit = audits.get(name)
        own = audit is not None and _has_fragment(audit)
        out.append(
            {
                "template": f"{name}/{FRAGMENT}" if own else GENERIC_FRAGMENT,
                "name": name,
                "test": report["tests"][name],
                "figures": audit.report_figures(report) if own else {},
            }
        )
    return out


def render_html(report: dict) -> str:
    return (
        _environment()
        .get_template("page.html.j2")
        .render(
            report=report,
            before_tests=BEFORE_TESTS,
            fragments=_fragments(report),
            after_tests=AFTER_TESTS,
            methods={name: text for name, text in method_texts().items() if text and name in report["tests"]},
            verdict_class=VERDICT_CLASS,
            scored_sentence=scored_sentence(report),
        )
    )


def write_html(report: dict, path: Path) -> None:
    write_text(Path(path), render_html(report))
