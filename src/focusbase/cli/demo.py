"""focusbase CLI: demo commands."""
