"""memaudit: audit EHR foundation models for patient-level memorization before release.

The Python API is `memaudit.run_audit(cohort, model, config)`; see `memaudit.api`."""

from .version import __version__

__all__ = ["__version__", "run_audit"]


def run_audit(*args, **kwargs):
    """See `memaudit.api.run_audit` (imported on first use, so `memaudit --help` stays fast)."""
    from .api import run_audit as _run_audit

    return _run_audit(*args, **kwargs)
