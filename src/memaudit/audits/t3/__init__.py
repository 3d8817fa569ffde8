"""T3, embedding probe: can a linear probe read a removed sensitive group off the prompt
embedding?"""

from .probe import EmbeddingProbeAudit

__all__ = ["EmbeddingProbeAudit"]
