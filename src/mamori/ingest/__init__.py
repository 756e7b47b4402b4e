"""Log collection: parsers (one module per format) and collectors."""
