"""T2, sensitive attribute leakage: do samples reveal a sensitive group removed from the prompt?"""

from .sensitive import SensitiveLeakageAudit

AUDIT = SensitiveLeakageAudit  # the test this package is (config/installed.py finds it)

__all__ = ["AUDIT", "SensitiveLeakageAudit"]
