"""focusbase CLI: validate commands."""
