"""focusbase.analytics."""
