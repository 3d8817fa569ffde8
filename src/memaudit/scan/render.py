"""scan.html: the scan for a privacy officer, from scan.json alone (Jinja2, autoescaped)."""

from __future__ import annotations

from ..templating import template_environment

ENVIRONMENT = template_environment("memaudit.scan")


def render_scan_html(scan: dict) -> str:
    return ENVIRONMENT.get_template("scan.html.j2").render(scan=scan)
