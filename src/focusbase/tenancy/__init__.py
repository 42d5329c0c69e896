"""Workspaces, API keys and providers: who may do what, to which data."""
