"""scan.html: the scan for a privacy officer, from scan.json alone (Jinja2, autoescaped)."""

from __future__ import annotations

import jinja2

ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("memaudit.scan", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_scan_html(scan: dict) -> str:
    return ENVIRONMENT.get_template("scan.html.j2").render(scan=scan)
