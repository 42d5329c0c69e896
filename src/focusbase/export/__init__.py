"""focusbase.export."""
