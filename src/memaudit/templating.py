"""The one template environment every page of memaudit is rendered with: report.html, scan.html,
compare.html and compare.md.

- autoescape on for every template, whatever its name: a value a user typed (a run directory's
  path, a code, a group label) is text, never markup; markup built by memaudit itself (inline SVG)
  is passed as `markupsafe.Markup`;
- `StrictUndefined`: a key a template reads and the data lacks fails the render instead of
  printing nothing;
- one stylesheet (`templates/style.css`, included inline: the pages load nothing).

    ENVIRONMENT = template_environment("memaudit.scan")   # its templates/ first, then the shared ones
"""

from __future__ import annotations

import jinja2


def fmt(v: object, pct: bool = False) -> object:
    """A metric for a table cell: floats to three decimals (or a percentage), None as a dash."""
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.1%}" if pct else f"{v:.3f}"
    return v


def percent(v: float, digits: int = 1) -> str:
    return f"{v:.{digits}%}"


def template_environment(package: str) -> jinja2.Environment:
    """The environment for the templates of `package` (its `templates/` folder), with the shared
    stylesheet and filters."""
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.PackageLoader(package, "templates"), jinja2.PackageLoader("memaudit", "templates")]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    environment.filters.update(fmt=fmt, percent=percent)
    return environment
