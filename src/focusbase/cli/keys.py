"""focusbase CLI: keys commands."""
