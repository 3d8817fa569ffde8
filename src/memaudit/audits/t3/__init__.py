"""T3, embedding probe: can a linear probe read a removed sensitive group off the prompt
embedding?"""

from .probe import EmbeddingProbeAudit

AUDIT = EmbeddingProbeAudit  # the test this package is (config/installed.py finds it)

__all__ = ["AUDIT", "EmbeddingProbeAudit"]
