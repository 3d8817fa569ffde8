"""The configuration sections installed tests declare: a test from another package owns its
settings (`Audit.config_section`, a `Section` dataclass) and the user writes them under the test's
key (`config_key`, by default its name in lower case: `t7:`). Found through the same entry-point
group the audit registry reads, so configuration and audit see the same installed tests."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from ..errors import UserInputError
from .params import Section

ENTRY_POINT_GROUP = "memaudit.audits"


@cache
def installed_test_sections() -> dict[str, type[Section]]:
    """{key: section class} of every installed test that declares a section. A plug-in that does
    not load is left to the registry, which names it when the audit starts."""
    out: dict[str, type[Section]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            test = entry.load()
        except Exception:
            continue
        section = getattr(test, "config_section", None)
        if section is None:
            continue
        if not (isinstance(section, type) and issubclass(section, Section)):
            raise UserInputError(
                f"a memaudit.config.params.Section subclass as {entry.value}.config_section",
                repr(section),
                "declare the test's settings as a frozen dataclass of param fields",
            )
        key = getattr(test, "config_key", None) or str(test.name).lower()
        if key in out and out[key] is not section:
            raise UserInputError(
                "one configuration section per key", f"two installed tests claim '{key}'", "uninstall one"
            )
        out[key] = section
    return out
