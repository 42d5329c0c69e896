"""focusbase.ingest."""
