"""SQL for the read side: WHERE clauses from filters, and keyset pages over the live_* views."""

from __future__ import annotations

from focusbase.query.filters import ContractCommitmentFilters, CostFilters, Scope

Params = list[object]


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier (only ever used with names from our own column catalogue)."""
    return '"' + identifier.replace('"', '""') + '"'


def scope_where(scope: Scope) -> tuple[str, Params]:
    """Workspace (and provider) restriction of a key, as SQL conditions and parameters."""
    clauses = ["workspace_id = ?"]
    params: Params = [scope.workspace_id]
    if scope.provider_ids is not None:
        if not scope.provider_ids:
            clauses.append("FALSE")
        else:
            ids = sorted(scope.provider_ids)
            clauses.append("provider_id IN (" + ", ".join("?" for _ in ids) + ")")
            params.extend(ids)
    return " AND ".join(clauses), params


def cost_where(filters: CostFilters) -> tuple[str, Params]:
    """A parameterised WHERE body over live_cost_rows for these filters (scope always included)."""
    sql, params = scope_where(filters.scope)
    clauses = [sql]
    if filters.billing_period_start is not None:
        clauses.append('"BillingPeriodStart" >= ?')
        params.append(filters.billing_period_start)
    if filters.billing_period_end is not None:
        clauses.append('"BillingPeriodStart" < ?')
        params.append(filters.billing_period_end)
    for column, value in filters.string_filters().items():
        clauses.append(f"{quote(column)} = ?")
        params.append(value)
    return " AND ".join(clauses), params


def contract_commitment_where(filters: ContractCommitmentFilters) -> tuple[str, Params]:
    """A parameterised WHERE body over live_contract_commitment_rows for these filters."""
    sql, params = scope_where(filters.scope)
    clauses = [sql]
    if filters.commitment_discount_id is not None:
        clauses.append('"ContractCommitmentId" = ?')
        params.append(filters.commitment_discount_id)
    if filters.billing_account_id is not None:
        clauses.append("json_extract_string(x_columns, '$.x_BillingAccountId') = ?")
        params.append(filters.billing_account_id)
    return " AND ".join(clauses), params
