"""T6, subgroups: do vulnerable patients leak more than others?"""

from .subgroups import SubgroupAudit

__all__ = ["SubgroupAudit"]
