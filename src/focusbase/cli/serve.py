"""focusbase CLI: serve commands."""
