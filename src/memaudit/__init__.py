"""memaudit: audit EHR foundation models for patient-level memorization."""

__version__ = "0.1.0"


def run_audit(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    """See memaudit.api.run_audit (imported lazily: the CLI's --help stays fast)."""
    from .api import run_audit as _run_audit

    return _run_audit(*args, **kwargs)
