"""focusbase CLI: imports commands."""
