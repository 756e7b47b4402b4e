"""Detection: Sigma rules compiled to Python predicates, correlation, the engine."""
