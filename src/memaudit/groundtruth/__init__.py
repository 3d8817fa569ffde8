"""Scoring the audit against the synthetic cohort's planted truth, and the placebo audit."""
