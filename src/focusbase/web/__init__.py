"""focusbase.web."""
