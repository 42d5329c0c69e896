"""SQL expression builders for FOCUS value formats, shared by the validator and the ingest normaliser.

Each builder takes a SQL expression (normally a quoted column name from our own catalogue) and returns DuckDB
SQL. A value the validator accepts is exactly a value these casts turn into a non-NULL typed value: the
normaliser casts with `timestamp_sql` / `decimal_sql` after validation, so both sides agree by construction.
"""

from __future__ import annotations

from focusbase.validate.result import Profile

DECIMAL_SCALE = 12
DECIMAL_TYPE = f"DECIMAL(38,{DECIMAL_SCALE})"

# FOCUS NumericFormat: optional '-', digits, optional fraction, optional E-notation whose exponent carries a
# sign only when negative. No '+', thousands separators, currency symbols, spaces or units.
NUMERIC_PATTERN = r"-?[0-9]+(\.[0-9]+)?([eE]-?[0-9]+)?"
# The common case, checked first: at most 26 integer digits and 12 decimals fit DECIMAL(38,12) as they are.
PLAIN_DECIMAL_PATTERN = r"-?[0-9]{1,26}(\.[0-9]{1,12})?"
# DateTimeFormat: `YYYY-MM-DDTHH:mm:ssZ` exactly.
STRICT_DATETIME_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
# The ingest profile also takes fractional seconds (to microseconds), `+00:00` and a date alone (midnight).
INGEST_DATETIME_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|\+00:00))?"
)
_INGEST_FORMATS = "['%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%d']"

# Text that stands for "no value" but is not a null (NullHandling forbids placeholders and empty strings).
NULL_PLACEHOLDERS = ("NULL", "null", "Null", "None", "NaN", "N/A", "n/a")


def quote_identifier(name: str) -> str:
    """Quote a column name for DuckDB SQL (names come from our catalogue or the file's own header)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string constant for DuckDB SQL."""
    return "'" + value.replace("'", "''") + "'"


def one_of_sql(text: str, values: tuple[str, ...] | list[str]) -> str:
    """TRUE when a text value is one of the constants (NULL when the value is NULL).

    Short lists become a chain of comparisons: DuckDB plans an IN list as a join, which is slow when a
    query holds dozens of them.
    """
    if len(values) > 24:
        return f"({text} IN ({', '.join(quote_literal(v) for v in values)}))"
    return "(" + " OR ".join(f"{text} = {quote_literal(v)}" for v in values) + ")"


def placeholder_sql(text: str) -> str:
    """TRUE when a text value is a null placeholder: empty, blank, or a word such as `NULL`."""
    # Evaluated for every cell, so cheap tests come first: a null leaves at once (it would otherwise pass
    # through every branch: 3x slower on a mostly empty column), `< '!'` catches the empty string and anything
    # starting with whitespace; only short values starting with N or n are compared with the words.
    words = " OR ".join(f"{text} = {quote_literal(w)}" for w in NULL_PLACEHOLDERS)
    return (
        f"(CASE WHEN {text} IS NULL THEN NULL WHEN {text} < '!' THEN trim({text}) = '' "
        f"WHEN strlen({text}) > 4 THEN FALSE "
        f"WHEN {text} < 'N' OR {text} >= 'o' THEN FALSE ELSE {words} END)"
    )


def numeric_format_sql(text: str) -> str:
    """TRUE when a text value follows FOCUS NumericFormat."""
    return f"regexp_full_match({text}, {quote_literal(NUMERIC_PATTERN)})"


def plain_decimal_sql(text: str) -> str:
    """TRUE for the common, cheap case: a plain decimal with at most 12 decimal places (no exponent)."""
    return f"regexp_full_match({text}, {quote_literal(PLAIN_DECIMAL_PATTERN)})"


def decimal_scale_sql(text: str) -> str:
    """TRUE when a NumericFormat value has at most 12 significant decimal places (DECIMAL(38,12) is exact)."""
    fraction = f"rtrim(regexp_extract({text}, '\\.([0-9]+)', 1), '0')"
    exponent = f"coalesce(TRY_CAST(regexp_extract({text}, '[eE](-?[0-9]+)', 1) AS INTEGER), 0)"
    return f"(length({fraction}) - {exponent} <= {DECIMAL_SCALE})"


def decimal_exact_sql(text: str) -> str:
    """TRUE when a text value is a FOCUS number DECIMAL(38,12) holds exactly (no rounding or overflow)."""
    return (
        f"(CASE WHEN {plain_decimal_sql(text)} THEN TRUE ELSE {numeric_format_sql(text)} "
        f"AND {decimal_scale_sql(text)} AND TRY_CAST({text} AS {DECIMAL_TYPE}) IS NOT NULL END)"
    )


def decimal_sql(text: str) -> str:
    """Cast a text value to DECIMAL(38,12), or NULL when it is not an exact FOCUS number (never rounds)."""
    return f"CASE WHEN {decimal_exact_sql(text)} THEN CAST({text} AS {DECIMAL_TYPE}) END"


def datetime_format_sql(text: str, profile: Profile) -> str:
    """TRUE when a text value has the date-time shape the profile accepts (calendar not yet checked)."""
    pattern = STRICT_DATETIME_PATTERN if profile == "strict" else INGEST_DATETIME_PATTERN
    return f"regexp_full_match({text}, {quote_literal(pattern)})"


def general_timestamp_sql(text: str, profile: Profile) -> str:
    """`timestamp_sql` without its fast path for the common form: the definition of an accepted date-time."""
    if profile == "strict":
        parsed = f"try_strptime({text}, '%Y-%m-%dT%H:%M:%SZ')"
    else:
        parsed = f"try_strptime(regexp_replace({text}, '([Zz]|\\+00:00)$', ''), {_INGEST_FORMATS})"
    return f"CASE WHEN {datetime_format_sql(text, profile)} THEN {parsed} END"


def timestamp_sql(text: str, profile: Profile) -> str:
    """Cast text to a UTC TIMESTAMP; NULL when the profile rejects its form or the date is impossible."""
    general = general_timestamp_sql(text, profile)
    # The common form, `2025-01-01T00:00:00Z`, takes a path 2.6x cheaper than the pattern and the format
    # list: a fixed-width shape, a first character that is a digit (strptime skips leading blanks), and one
    # strptime, which needs a digit at every other place. A value it parses is a value the general path gives
    # the same instant; anything else (NULL here) still goes through the general path
    # (tests/validate/test_parsing.py holds the two to each other).
    common = (
        f"CASE WHEN {text} >= '0' AND {text} < ':' AND {text} LIKE '____-__-__T__:__:__Z' "
        f"THEN try_strptime({text}, '%Y-%m-%dT%H:%M:%SZ') END"
    )
    return f"coalesce({common}, {general})"
