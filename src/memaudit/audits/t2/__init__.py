"""T2, sensitive attribute leakage: do samples reveal a sensitive group removed from the prompt?"""

from .sensitive import SensitiveLeakageAudit

__all__ = ["SensitiveLeakageAudit"]
