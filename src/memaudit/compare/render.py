"""compare.html and compare.md from compare.json alone (Jinja2)."""

from __future__ import annotations

from ..templating import template_environment

ENVIRONMENT = template_environment("memaudit.compare")


def render_compare_html(comparison: dict) -> str:
    return ENVIRONMENT.get_template("compare.html.j2").render(c=comparison)


def render_compare_markdown(comparison: dict) -> str:
    return ENVIRONMENT.get_template("compare.md.j2").render(c=comparison)
