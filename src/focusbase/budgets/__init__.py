"""Budgets: monthly amounts per scope and currency, thresholds on actual and forecast spend."""
