"""Detectors by name (``DETECTORS``); importing the package registers every one of them."""

from apps.anomalies.detectors import declarations, relations
from apps.anomalies.detectors.base import DETECTORS, DetectionContext, Detector, Finding, register

__all__ = ["DETECTORS", "DetectionContext", "Detector", "Finding", "declarations", "register", "relations", "risk"]

# The risk model reads the other detectors' scores, so it registers (and runs) last.
from apps.anomalies import risk
