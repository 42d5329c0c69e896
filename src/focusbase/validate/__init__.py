"""focusbase.validate."""
