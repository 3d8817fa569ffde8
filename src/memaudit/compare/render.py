"""compare.html and compare.md from compare.json alone (Jinja2)."""

from __future__ import annotations

import jinja2

ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("memaudit.compare", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_compare_html(comparison: dict) -> str:
    return ENVIRONMENT.get_template("compare.html.j2").render(c=comparison)


def render_compare_markdown(comparison: dict) -> str:
    return ENVIRONMENT.get_template("compare.md.j2").render(c=comparison)
