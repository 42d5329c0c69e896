"""focusbase CLI: export commands."""
