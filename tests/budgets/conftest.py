"""Budget tests share the notification fixtures: a loopback receiver and loopback-friendly settings."""

from tests.notify.conftest import receiver, settings

__all__ = ["receiver", "settings"]
