"""The focusbase command line: one module per command family, all calling the same services as the API."""

from __future__ import annotations

import typer

from focusbase import __version__

app = typer.Typer(
    name="focusbase",
    help="focusbase: validate, store and serve FinOps FOCUS cost data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"focusbase {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """focusbase command line."""


def _register() -> None:
    # Each command family registers itself on `app`; importing them here keeps the wiring in one place.
    from focusbase.cli import commands  # noqa: F401


def main() -> None:
    """Console-script entry point."""
    _register()
    app()
