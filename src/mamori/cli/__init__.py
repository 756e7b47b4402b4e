"""Command-line entry points: thin wrappers over the same services the web app uses."""
