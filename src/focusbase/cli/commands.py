"""Imports every command module so each registers its commands on the root app."""

from focusbase.cli import (  # noqa: F401
    demo,
    explore,
    export,
    imports,
    keys,
    migrate,
    providers,
    push,
    serve,
    validate,
)
