"""T4, membership inference from one forward pass per record (membership.py), with the arm of
the records the data repeats judged at low false-positive rates (repeated_arm.py)."""

from .membership import MembershipAudit

AUDIT = MembershipAudit  # the test this package is (config/installed.py finds it)

__all__ = ["AUDIT", "MembershipAudit"]
