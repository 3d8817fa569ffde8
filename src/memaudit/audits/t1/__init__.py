"""T1, trajectory memorization: how close sampled continuations come to the subject's own
(trajectory.py; the time-aware earth mover's distance in demd.py)."""

from .trajectory import TrajectoryAudit

AUDIT = TrajectoryAudit  # the test this package is (config/installed.py finds it)

__all__ = ["AUDIT", "TrajectoryAudit"]
