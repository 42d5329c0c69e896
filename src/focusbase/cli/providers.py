"""focusbase CLI: providers commands."""
