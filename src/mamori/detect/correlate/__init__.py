"""Sigma v2 correlation rules evaluated over a stream of rule matches, with bounded state."""

from mamori.detect.correlate.correlator import Correlator, CorrelatorStats

__all__ = ["Correlator", "CorrelatorStats"]
