"""Background-service factories and sinks that connect areas to the bus and the store."""
