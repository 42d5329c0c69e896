"""The push payload parser: envelope, plain array and NDJSON into an all-string Arrow table."""

from __future__ import annotations

import pytest

from focusbase.ingest.envelope import PayloadError, parse_json_payload


def test_envelope_keeps_literal_numbers_and_serialises_objects() -> None:
    data = (
        b'{"format":"stackspend.focus","version":"1","dataset":"CostAndUsage","rows":['
        b'{"BilledCost":12.50,"ListCost":1234567890.123456789012,"Tags":{"env":"prod","n":1.50},"x_flag":true},'
        b'{"BilledCost":3,"ChargeClass":null,"x_flag":false}]}'
    )
    payload = parse_json_payload(data)
    assert (payload.format, payload.version, payload.dataset, payload.row_count) == (
        "stackspend.focus",
        "1",
        "CostAndUsage",
        2,
    )
    assert payload.table.column_names == ["BilledCost", "ListCost", "Tags", "x_flag", "ChargeClass"]
    assert payload.table.to_pylist() == [
        {
            "BilledCost": "12.50",
            "ListCost": "1234567890.123456789012",
            "Tags": '{"env":"prod","n":1.50}',
            "x_flag": "true",
            "ChargeClass": None,
        },
        {"BilledCost": "3", "ListCost": None, "Tags": None, "x_flag": "false", "ChargeClass": None},
    ]


def test_plain_array_and_ndjson() -> None:
    assert parse_json_payload(b'[{"a":"x"},{"b":1e5}]').table.to_pylist() == [
        {"a": "x", "b": None},
        {"a": None, "b": "1e5"},
    ]
    ndjson = parse_json_payload(b'{"a":"x"}\n\n{"a":"y","b":[1,2]}\n')
    assert ndjson.format is None
    assert ndjson.table.to_pylist() == [{"a": "x", "b": None}, {"a": "y", "b": "[1,2]"}]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"not json", "not valid JSON"),
        (b'{"format":"other","version":"1","rows":[]}', '"format" must be "stackspend.focus"'),
        (b'{"format":"stackspend.focus","version":"2","rows":[]}', '"version" must be "1"'),
        (b'{"format":"stackspend.focus","version":"1"}', 'no "rows"'),
        (b'{"format":"stackspend.focus","version":"1","rows":{}}', '"rows" must be an array'),
        (b'{"format":"stackspend.focus","version":"1","dataset":"X","rows":[]}', '"dataset" must be'),
        (b'[{"a":1},[1]]', "row 2 is a JSON array"),
        (b'{"a":1}\n{oops}\n', "NDJSON line 2"),
        (b"5", "JSON number"),
    ],
)
def test_bad_payloads_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message.replace("(", r"\(")):
        parse_json_payload(data)


def test_object_columns_keep_every_value_exactly_even_with_control_characters() -> None:
    # Objects are serialised in one call and split at a separator element; values that contain the
    # separator's own text (a nested array holding "\u0001") must still come back one for one.
    rows = [
        b'{"Tags":{"k":"v,\\"\\u0001\\","}}',
        b'{"Tags":null}',
        b'{"Tags":["x","\\u0001","y"]}',
        b'{"Tags":{"n":12345.123456789012}}',
        b'{"Tags":{}}',
    ]
    data = b'{"format":"stackspend.focus","version":"1","rows":[' + b",".join(rows) + b"]}"
    assert parse_json_payload(data).table.column("Tags").to_pylist() == [
        '{"k":"v,\\"\\u0001\\","}',
        None,
        '["x","\\u0001","y"]',
        '{"n":12345.123456789012}',
        "{}",
    ]
    # Without the nested array the fast path splits the whole column in one go, nulls included.
    fast = b'{"format":"stackspend.focus","version":"1","rows":[' + b",".join(rows[:2] + rows[3:]) + b"]}"
    assert parse_json_payload(fast).table.column("Tags").to_pylist() == [
        '{"k":"v,\\"\\u0001\\","}',
        None,
        '{"n":12345.123456789012}',
        "{}",
    ]
