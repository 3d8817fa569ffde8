"""T1, trajectory memorization: how close sampled continuations come to the subject's own
(trajectory.py; the time-aware earth mover's distance in demd.py)."""

from .trajectory import TrajectoryAudit

__all__ = ["TrajectoryAudit"]
