"""focusbase.query."""
