"""HTTP API: one router per domain, thin endpoints over the services."""
