"""T5, memorized or generalized, in one flow: which flags are judged (cases.py), what both models
say about them and the null (contrast.py; perturbation.py without a reference model), the null's
tail (null.py), the verdicts (decision.py); audit.py is the registered test."""

from .audit import MemorizationAudit

AUDIT = MemorizationAudit  # the test this package is (config/installed.py finds it)

__all__ = ["AUDIT", "MemorizationAudit"]
