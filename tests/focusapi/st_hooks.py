"""schemathesis hooks for the FOCUS read API run (loaded through SCHEMATHESIS_HOOKS).

A fuzzer cannot forge HMAC-signed page tokens, so a generated `pageToken` is replaced by a token this server
would have issued for the same query (signed with the server's secret, which the test passes in the
environment). Invalid, foreign and tampered tokens are covered by tests/focusapi/test_pagination.py.
"""

from __future__ import annotations

import os
import zlib
from typing import Any

import schemathesis

from focusbase.query import params
from focusbase.query.filters import FilterError, Scope
from focusbase.query.tokens import encode_token, query_digest

SECRET = os.environ.get("FOCUSBASE_SECRET_KEY", "").encode()
SCOPE = Scope(os.environ.get("FOCUSAPI_ST_WORKSPACE", "ws_default"))


def _valid_token(path: str, query: dict[str, Any]) -> str | None:
    if any(isinstance(v, (list, dict)) for v in query.values()):
        return None
    raw = {k: v if isinstance(v, str) else str(v) for k, v in query.items() if v is not None}
    try:
        if path.endswith("/cost-and-usage"):
            digest = query_digest("CostAndUsage", params.cost_filters(SCOPE, raw).canonical())
        elif path.endswith("/contract-commitments"):
            digest = query_digest(
                "ContractCommitment", params.contract_commitment_filters(SCOPE, raw).canonical()
            )
        else:
            return None
    except (FilterError, ValueError):
        return None  # the server rejects this query for another reason; keep the generated token
    after = zlib.crc32(str(query.get("pageToken")).encode()) % 60  # somewhere inside the loaded rows
    return encode_token(SECRET, digest, after)


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """Swap a generated pageToken for a valid one for the same query."""
    query = case.query
    if isinstance(query, dict) and isinstance(query.get("pageToken"), str):
        token = _valid_token(case.operation.path, query)
        if token is not None:
            case.query = {**query, "pageToken": token}
    return case
