"""python -m focusbase."""

from focusbase.cli import main

main()
