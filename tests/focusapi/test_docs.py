"""docs/api.md documents every error code the FOCUS read API returns and every filter parameter."""

from __future__ import annotations

import re
from pathlib import Path

from focusbase.query.filters import QUERY_PARAMETERS

ROOT = Path(__file__).resolve().parents[2]


def test_error_codes_and_parameters_are_documented() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    source = (ROOT / "src" / "focusbase" / "api" / "focus.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'ApiError\(\s*\d{3},\s*"([a-z_]+)"', source))
    assert codes >= {"invalid_parameter", "invalid_page_token"}
    for code in codes | {"unauthorized", "forbidden", "rate_limited", "invalid_request"}:
        assert f"`{code}`" in text, code
    for parameter in [
        *QUERY_PARAMETERS.values(),
        "pageSize",
        "pageToken",
        "commitmentDiscountId",
        "billingAccountId",
    ]:
        assert f"`{parameter}`" in text, parameter
