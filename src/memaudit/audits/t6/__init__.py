"""T6, subgroups: do vulnerable patients leak more than others?"""

from .subgroups import SubgroupAudit

AUDIT = SubgroupAudit  # the test this package is (config/installed.py finds it)

__all__ = ["AUDIT", "SubgroupAudit"]
