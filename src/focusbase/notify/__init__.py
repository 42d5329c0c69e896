"""Notifications: signed webhooks (Standard Webhooks) fed by a durable outbox in the catalog."""
