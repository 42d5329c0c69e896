"""Server lifecycle hooks for export (recovery on start, workers)."""
