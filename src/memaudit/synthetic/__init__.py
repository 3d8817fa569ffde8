"""The embedded default: a synthetic MEDS cohort with planted ground truth, the built-in model's
trainer and the demo. Not part of the audit itself."""
