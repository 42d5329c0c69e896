"""Column mappings for file imports: the mapping document, and checking it against a file's header. Pure.

A mapping says, for each FOCUS column, where its value comes from: a source column of the file (with
optional transforms: a date format, money cleaning) or a constant. Tags may come from one JSON column
and/or from several plain columns. Source columns named `x_...` are kept as custom columns; every other
source column must be mapped, kept as a custom column, or ignored explicitly.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from focusbase.focus import Dataset, all_column_names, is_custom_column, latest_column

NumberStyle = Literal["plain", "money"]

# Codecs Python registers as text encodings that are not character sets a file can be written in.
_NOT_FILE_ENCODINGS = frozenset(
    {"punycode", "idna", "undefined", "unicode-escape", "raw-unicode-escape", "charmap", "mbcs", "oem"}
)


def text_encoding(name: str) -> str:
    """The canonical name of a text encoding; ValueError for an unknown codec or one that is not text.

    Python's codec registry also holds bytes-to-bytes and text-to-text transforms (base64, zlib, rot13,
    ...), which do not turn a file's bytes into text.
    """
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ValueError(f"unknown text encoding {name!r}") from None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_FILE_ENCODINGS:
        raise ValueError(
            f"{name!r} is not a text encoding: name the character set of the file, e.g. utf-8, latin-1, "
            "cp1252, utf-16 or shift_jis"
        )
    return info.name


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class ColumnRule(_Model):
    """Where one FOCUS column's value comes from: a source column (with transforms) or a constant."""

    source: str | None = Field(None, description="Header of the source column.")
    value: str | None = Field(None, description="A constant for every row (for columns the file lacks).")
    date_format: str | None = Field(
        None, description="strptime format of the source values, e.g. %d/%m/%Y (Date/Time columns)."
    )
    number: NumberStyle | None = Field(
        None, description="'money' strips currency symbols and codes, thousands separators and (parentheses)."
    )

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnRule:
        if (self.source is None) == (self.value is None):
            raise ValueError("give exactly one of 'source' (a column of the file) or 'value' (a constant)")
        return self


class ImportOptions(_Model):
    """File-wide reading options; each one changes values, so each is explicit and recorded on the batch."""

    encoding: str | None = Field(None, description="Text encoding, e.g. utf-8, latin-1, utf-16, cp1252.")
    delimiter: str | None = Field(None, description="Field delimiter; sniffed when absent.")
    null_strings: list[str] = Field(
        default_factory=list,
        description="Cell texts read as null, e.g. ['NULL']; empty cells are always null.",
    )
    lenient_timestamps: bool = Field(
        False,
        description="Accept '2024-09-18 22:00:00' and '... UTC' timestamps without a zone as UTC.",
    )
    decimal_comma: bool = Field(False, description="Money columns use a decimal comma: '1.234,50'.")

    @field_validator("encoding")
    @classmethod
    def _text_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            text_encoding(value)
        return value


class Mapping(_Model):
    """A mapping document: FOCUS column rules, Tags sources, custom columns, ignored columns, options."""

    columns: dict[str, ColumnRule] = Field(default_factory=dict)
    tags: dict[str, str] = Field(
        default_factory=dict, description="Tag key -> source column; merged into Tags (over a Tags source)."
    )
    custom: dict[str, str] = Field(default_factory=dict, description="x_ column name -> source column.")
    ignore: list[str] = Field(default_factory=list, description="Source columns deliberately not imported.")
    options: ImportOptions = Field(default_factory=ImportOptions)

    def to_json(self) -> dict[str, Any]:
        """The camelCase JSON form (what the API returns and stores)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class MappingError(ValueError):
    """A mapping document that is malformed or does not fit the file; `problems` lists each reason."""

    def __init__(self, message: str, problems: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.problems = problems


def parse_mapping(data: Any) -> Mapping:
    """Parse a mapping document (camelCase JSON object); MappingError naming each problem otherwise."""
    if not isinstance(data, dict):
        raise MappingError(
            "the mapping must be a JSON object", [{"location": "mapping", "message": "not an object"}]
        )
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = [
            {
                "location": ".".join(str(p) for p in err["loc"]) or "mapping",
                "message": err["msg"].removeprefix("Value error, "),
            }
            for err in exc.errors()
        ]
        first = problems[0]
        raise MappingError(f"invalid mapping: {first['location']}: {first['message']}", problems) from None


@dataclass(frozen=True, slots=True)
class Output:
    """One column of the mapped table: a FOCUS or custom column and the rule that fills it."""

    name: str
    rule: ColumnRule
    data_type: str  # String | Decimal | Date/Time | JSON; custom columns are String


@dataclass(frozen=True, slots=True)
class ResolvedMapping:
    """A mapping checked against a header: the output columns in order, and what each source column feeds."""

    mapping: Mapping
    outputs: tuple[Output, ...]
    tag_sources: tuple[tuple[str, str], ...]  # (tag key, source column)
    tags_rule: ColumnRule | None
    ignored: tuple[str, ...]
    used_sources: frozenset[str] = field(default_factory=frozenset)


def _known_columns(dataset: Dataset) -> tuple[str, ...]:
    return all_column_names(dataset)


def resolve(mapping: Mapping, header: list[str], dataset: Dataset) -> ResolvedMapping:
    """Check a mapping against a file's header; MappingError listing every problem when it does not fit."""
    problems: list[dict[str, str]] = []
    present = set(header)
    known = set(_known_columns(dataset))
    outputs: list[Output] = []
    used: set[str] = set()
    tags_rule: ColumnRule | None = None

    def need(source: str, location: str) -> None:
        if source not in present:
            problems.append({"location": location, "message": f"source column {source!r} is not in the file"})
        used.add(source)

    for name, rule in mapping.columns.items():
        location = f"columns.{name}"
        if name not in known:
            problems.append(
                {"location": location, "message": f"{name!r} is not a FOCUS {dataset.value} column"}
            )
            continue
        col = latest_column(name, dataset)
        data_type = col.data_type if col else "String"
        if rule.date_format is not None and data_type != "Date/Time":
            problems.append({"location": location, "message": "dateFormat applies to Date/Time columns only"})
        if rule.number is not None and data_type != "Decimal":
            problems.append({"location": location, "message": "number applies to Decimal columns only"})
        if rule.source is not None:
            need(rule.source, location)
        if name == "Tags":
            tags_rule = rule
            continue
        outputs.append(Output(name, rule, data_type))
    if mapping.tags and dataset is not Dataset.COST_AND_USAGE:
        problems.append({"location": "tags", "message": f"the {dataset.value} dataset has no Tags column"})
    for key, source in mapping.tags.items():
        if not key:
            problems.append({"location": "tags", "message": "a tag key must not be empty"})
        need(source, f"tags.{key}")
    for name, source in mapping.custom.items():
        if not is_custom_column(name) or len(name) <= 2:
            problems.append(
                {"location": f"custom.{name}", "message": "custom column names must start with x_"}
            )
            continue
        need(source, f"custom.{name}")
        outputs.append(Output(name, ColumnRule(source=source), "String"))
    for source in mapping.ignore:
        if source not in present:
            problems.append(
                {"location": "ignore", "message": f"ignored column {source!r} is not in the file"}
            )
    ignored = set(mapping.ignore)
    # x_ columns of the file are kept under their own name unless mapped, renamed or ignored.
    taken = {o.name for o in outputs}
    for source in header:
        if is_custom_column(source) and source not in used and source not in ignored and source not in taken:
            outputs.append(Output(source, ColumnRule(source=source), "String"))
            used.add(source)
    leftover = [h for h in header if h not in used and h not in ignored]
    for source in leftover:
        problems.append(
            {
                "location": source,
                "message": f"source column {source!r} is not mapped: map it to a FOCUS column, keep it as "
                f"a custom column (custom: {{'{custom_name_for(source)}': {source!r}}}) or list it in ignore",
            }
        )
    if problems:
        first = problems[0]
        raise MappingError(
            f"the mapping does not fit the file: {first['location']}: {first['message']}", problems
        )
    return ResolvedMapping(
        mapping=mapping,
        outputs=tuple(outputs),
        tag_sources=tuple(mapping.tags.items()),
        tags_rule=tags_rule,
        ignored=tuple(mapping.ignore),
        used_sources=frozenset(used),
    )


def _custom_suffix(source: str) -> str:
    return "".join(ch for ch in source.title() if ch.isalnum()) or "Column"


def custom_name_for(source: str) -> str:
    """The custom column name suggested for a source column that has no FOCUS meaning."""
    return f"x_{_custom_suffix(source)}"
