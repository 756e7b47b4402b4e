"""Sigma rules: loading (pySigma), logsource pipelines, our backend and compiled matchers."""
