"""What the rule builders see: the bound columns and the SQL names of their values in the base projection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from focusbase.focus import VERSIONS, Dataset
from focusbase.validate.columns import Binding
from focusbase.validate.parsing import quote_identifier, quote_literal
from focusbase.validate.result import Profile, Severity


@dataclass(frozen=True, slots=True)
class RowRule:
    """A row-level check: `violation` is DuckDB SQL over the base projection, TRUE when the row breaks it.

    `value` is SQL giving the text shown in the message for `{value}`; `describe`, when set, builds the
    message from that value instead (used for hints such as "did you mean Usage?").
    """

    rule: str
    column: str | None
    severity: Severity
    violation: str
    message: str
    value: str | None = None
    rm12: str | None = None
    describe: Callable[[str | None], str] | None = None
    quote: bool = True
    # True when another rule of the same column always fires too (a placeholder in a number column also
    # fails numeric-format), so a pass that only asks "is anything wrong?" may leave this rule out.
    implied: bool = False

    def render(self, value: str | None) -> str:
        """The finding message for one offending value."""
        if self.describe is not None:
            text = self.describe(value)
        else:
            text = self.message.format(value=show(value) if self.quote else (value or ""))
        return f"{text} [{self.rm12}]" if self.rm12 else text


def show(value: str | None) -> str:
    """A value as it appears in a message: quoted, shortened when long."""
    if value is None:
        return "null"
    if len(value) > 80:
        value = value[:77] + "..."
    return f'"{value}"'


@dataclass(frozen=True, slots=True)
class Context:
    """The validation target: profile, version, dataset and the FOCUS columns present."""

    profile: Profile
    version: str
    dataset: Dataset
    bindings: dict[str, Binding]
    nulled: frozenset[str] = frozenset()

    def has(self, *names: str) -> bool:
        """True when every named FOCUS column is present and usable."""
        return all(name in self.bindings for name in names)

    def since(self, version: str) -> bool:
        """True when the rules of `version` apply (the validated version is that one or later)."""
        return VERSIONS.index(self.version) >= VERSIONS.index(version)

    def v(self, name: str) -> str:
        """SQL for the column's value as text (NULL for nulls and placeholders)."""
        return quote_identifier(f"v:{name}")

    def raw(self, name: str) -> str:
        """SQL for the column's value exactly as stored (placeholders included)."""
        return quote_identifier(f"r:{name}")

    def plain(self, name: str) -> str:
        """SQL for a Decimal text column's fast-path flag: a plain decimal with at most 12 places."""
        return quote_identifier(f"s:{name}")

    def exact(self, name: str) -> str:
        """SQL for a Decimal column's flag: the value is held exactly by DECIMAL(38,12)."""
        return quote_identifier(f"e:{name}")

    def keys(self, name: str) -> str:
        """SQL for a key-value JSON column's list of keys (NULL unless the value is a JSON object)."""
        return quote_identifier(f"k:{name}")

    def n(self, name: str) -> str:
        """SQL for the typed value (DOUBLE of an exact decimal, or TIMESTAMP; NULL if null or bad)."""
        return quote_identifier(f"n:{name}")

    def f(self, name: str) -> str:
        """SQL for the column's format flag (numbers: NumericFormat shape; JSON: a JSON object)."""
        return quote_identifier(f"f:{name}")

    def is_(self, name: str, value: str) -> str:
        """SQL: the column equals a constant (NULL-safe FALSE when absent or null)."""
        if not self.has(name):
            return "FALSE"
        return f"coalesce({self.v(name)} = {quote_literal(value)}, FALSE)"

    def is_not(self, name: str, value: str) -> str:
        """SQL: the column is null or differs from a constant."""
        if not self.has(name):
            return "TRUE"
        return f"{self.v(name)} IS DISTINCT FROM {quote_literal(value)}"

    def null(self, name: str) -> str:
        """SQL: the column's value is null (TRUE when the column is absent)."""
        return f"{self.v(name)} IS NULL" if self.has(name) else "TRUE"

    def not_null(self, name: str) -> str:
        """SQL: the column's value is not null (FALSE when the column is absent)."""
        return f"{self.v(name)} IS NOT NULL" if self.has(name) else "FALSE"

    def pairs(self, *names: str) -> str:
        """SQL text listing `Name=value` for the named columns, for messages."""
        parts = [f"'{name}=' || coalesce({self.v(name)}, 'null')" for name in names if self.has(name)]
        return " || ', ' || ".join(parts) if parts else "NULL"
