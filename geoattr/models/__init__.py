"""Estimators and results (filled in below)."""
