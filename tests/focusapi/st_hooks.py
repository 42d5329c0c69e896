"""schemathesis hooks for the conformance runs (loaded through SCHEMATHESIS_HOOKS).

- A fuzzer cannot forge HMAC-signed page tokens, so a generated `pageToken` (of a FOCUS list or of a
  provider's History) is replaced by a token this server would have issued for the same query, signed with
  the server's secret, which the test passes in the environment. Invalid, foreign and tampered tokens are
  covered by tests/focusapi/test_pagination.py and tests/security/test_history_token.py.
- The run must not lock itself out or delete the data it reads: a DELETE of one of the run's own keys or
  of a loaded provider, or a rotation of the ingest key the run uses, is aimed at an id that does not exist
  instead (the operation is still called, and answers 404). Ids are passed in FOCUSBASE_ST_PROTECTED.
"""

from __future__ import annotations

import os
import re
import zlib
from typing import Any

import schemathesis

from focusbase.query import params
from focusbase.query.filters import FilterError, Scope
from focusbase.query.tokens import encode_cursor, encode_token, query_digest

SECRET = os.environ.get("FOCUSBASE_SECRET_KEY", "").encode()
WORKSPACE = os.environ.get("FOCUSAPI_ST_WORKSPACE", "ws_default")
SCOPE = Scope(WORKSPACE)
PROTECTED = set(filter(None, os.environ.get("FOCUSBASE_ST_PROTECTED", "").split(",")))
_DESTRUCTIVE = {
    "DELETE /api/v1/keys/{key_id}",
    "DELETE /api/v1/providers/{provider_id}",
    "POST /api/v1/providers/{provider_id}/ingest-key",
}
_HISTORY = re.compile(r"^/api/v1/providers/\{[^}]+\}/batches$")


def _valid_token(case: Any, query: dict[str, Any]) -> str | None:
    path = case.operation.path
    if any(isinstance(v, (list, dict)) for v in query.values()):
        return None
    raw = {k: v if isinstance(v, str) else str(v) for k, v in query.items() if v is not None}
    after = zlib.crc32(str(query.get("pageToken")).encode()) % 60  # somewhere inside the loaded rows
    try:
        if path.endswith("/cost-and-usage"):
            digest = query_digest("CostAndUsage", params.cost_filters(SCOPE, raw).canonical())
        elif path.endswith("/contract-commitments"):
            digest = query_digest(
                "ContractCommitment", params.contract_commitment_filters(SCOPE, raw).canonical()
            )
        elif _HISTORY.match(path):
            provider = next(iter((case.path_parameters or {}).values()), None)
            if not isinstance(provider, str):
                return None
            digest = query_digest("history", {"workspace": WORKSPACE, "provider": provider})
            return encode_cursor(SECRET, digest, [f"2026-01-01T00:00:{after:02d}", f"bat_{after:020d}"])
        else:
            return None
    except (FilterError, ValueError):
        return None  # the server rejects this query for another reason; keep the generated token
    return encode_token(SECRET, digest, after)


def _protect(case: Any) -> None:
    path_parameters = case.path_parameters
    if not isinstance(path_parameters, dict):
        return
    if f"{case.method.upper()} {case.operation.path}" not in _DESTRUCTIVE:
        return
    for name, value in path_parameters.items():
        if value in PROTECTED:
            path_parameters[name] = f"{value}_not_this_one"


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Just before sending, in every phase (stateful links and pinned parameters already applied): keep the
    run's keys and data, and swap a generated pageToken for a valid one for the request's own query."""
    _protect(case)
    query = case.query
    if isinstance(query, dict) and isinstance(query.get("pageToken"), str):
        token = _valid_token(case, query)
        if token is not None:
            case.query = {**query, "pageToken": token}
