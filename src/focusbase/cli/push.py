"""focusbase CLI: push commands."""
