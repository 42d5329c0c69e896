"""Server lifecycle hooks for ingest (recovery on start, workers)."""
