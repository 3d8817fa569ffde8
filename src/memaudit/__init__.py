"""memaudit: audit EHR foundation models for patient-level memorization."""

__version__ = "0.1.0"
