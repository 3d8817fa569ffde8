"""The cohort: reading MEDS, rebuilding the model's stream, code conventions and sensitive groups."""
