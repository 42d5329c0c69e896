"""Issue 13 item 5: an encoding that is not a text encoding is a 400 invalid_options, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.imports.conftest import IMPORTS, upload
from tests.security.test_import_support import MAX_ERROR_BODY, new_provider

NOT_TEXT = ["base64", "zlib", "hex", "rot13", "uu", "bz2", "quopri", "punycode", "idna", "unicode_escape"]


@pytest.fixture
def provider_id(client: TestClient, admin_headers: dict[str, str]) -> str:
    return new_provider(client, admin_headers)


@pytest.mark.parametrize("codec", NOT_TEXT)
@pytest.mark.parametrize("how", ["field", "options", "mapping"])
def test_non_text_codecs_are_invalid_options(
    client: TestClient, admin_headers: dict[str, str], provider_id: str, codec: str, how: str
) -> None:
    path = IMPORTS / "vendor_cp1252.csv"
    if how == "field":
        response = upload(client, admin_headers, provider_id, path, encoding=codec)
    elif how == "options":
        response = upload(client, admin_headers, provider_id, path, options={"encoding": codec})
    else:
        response = upload(client, admin_headers, provider_id, path, mapping={"options": {"encoding": codec}})
    assert len(response.content) < MAX_ERROR_BODY
    body = response.json()
    assert response.status_code == 400, body
    assert body["code"] == ("invalid_mapping" if how == "mapping" else "invalid_options")
    assert "encoding" in body["message"] and repr(codec) in body["message"]
    assert "not a text encoding" in body["message"]
    batches = client.get(f"/api/v1/providers/{provider_id}/batches", headers=admin_headers).json()
    assert batches["batches"] == []


def test_unknown_encoding_is_invalid_options(
    client: TestClient, admin_headers: dict[str, str], provider_id: str
) -> None:
    response = upload(client, admin_headers, provider_id, IMPORTS / "vendor_cp1252.csv", encoding="klingon")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_options"
    assert "unknown text encoding 'klingon'" in response.json()["message"]


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("vendor_cp1252.csv", "cp1252"),
        ("vendor_cp1252.csv", "windows-1252"),
        ("vendor_latin1.csv", "latin-1"),
    ],
)
def test_text_encodings_are_still_read(
    client: TestClient, admin_headers: dict[str, str], provider_id: str, name: str, codec: str
) -> None:
    response = upload(client, admin_headers, provider_id, IMPORTS / name, preview=True, encoding=codec)
    assert response.status_code == 200, response.text
    assert response.json()["file"]["columns"]


@pytest.mark.parametrize("codec", ["utf-8", "latin-1"])
def test_the_wrong_text_encoding_is_bad_encoding(
    client: TestClient, admin_headers: dict[str, str], provider_id: str, codec: str
) -> None:
    path = IMPORTS / "vendor_cp1252.csv"
    response = upload(client, admin_headers, provider_id, path, preview=True, encoding=codec)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "bad_encoding"
    assert "encoding" in response.json()["message"]
