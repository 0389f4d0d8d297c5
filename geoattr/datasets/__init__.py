"""Datasets: the embedded synthetic Norway (the default for ``geoattr demo``)."""

from geoattr.datasets.synthetic import SyntheticNorway, SyntheticTruth, synthetic_norway

__all__ = ["synthetic_norway", "SyntheticNorway", "SyntheticTruth"]
