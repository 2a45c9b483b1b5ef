# mypy: implicit-reexport
# ruff: noqa: F401
# The names imported for type checkers below are this package's public names, which
# __getattr__ imports at run time, module by module, on first use.
"""The wire contract: every request and response body of the HTTP API (DESIGN.md §3).

This package is the one definition of the contract. The backend builds its responses from
these models and validates its requests with them; the client parses with them. It imports
neither Textual nor the backend. One module per part of the API; every name is importable
from here, as ``from credits_tui.api_client.models import Money``.

Money is a ``Decimal`` in Python and a string with exactly two decimal places on the wire
(``"25.00"``, ``"-3.25"``): see ``wire``.

A module is imported when one of its names is first asked for, not with the package: a quick
command such as ``balance --json`` reads one model and pays only for the modules that model
is made of.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from credits_tui.api_client.models.account import (
        AccountRef,
        AccountUser,
        Me,
        Role,
        TokenRequest,
        TokenResponse,
        UserList,
        UserRef,
    )
    from credits_tui.api_client.models.alerts import (
        AUTO_RECHARGE_MAX_FAILURES,
        AUTO_RECHARGE_MIN_CHARGE,
        AutoRecharge,
        AutoRechargeFailure,
        AutoRechargeUpdate,
        Notification,
        NotificationKind,
        NotificationPage,
        NotificationSettings,
        NotificationSettingsUpdate,
        recharge_to_problem,
    )
    from credits_tui.api_client.models.audit import (
        AUDIT_ACTIONS,
        AuditAction,
        AuditDetailValue,
        AuditEvent,
        AuditOutcome,
        AuditPage,
        AuditQuery,
    )
    from credits_tui.api_client.models.billing import (
        Invoice,
        InvoiceLine,
        InvoiceList,
        InvoiceStatus,
        Receipt,
        ReceiptCard,
        Seller,
    )
    from credits_tui.api_client.models.cards import (
        BillingAddress,
        CardInput,
        CardPatch,
        CardSummary,
    )
    from credits_tui.api_client.models.credits import (
        MINIMUM_PURCHASE,
        AccountStatus,
        Purchase,
        PurchaseAmount,
        PurchaseRequest,
        PurchaseResult,
    )
    from credits_tui.api_client.models.transactions import (
        Transaction,
        TransactionPage,
        TransactionQuery,
        TransactionSummary,
        TransactionType,
    )
    from credits_tui.api_client.models.usage import (
        BillingMode,
        DailyUsage,
        DailyUsageDay,
        FreeQuota,
        PriceCatalog,
        ProcessTypePrice,
        UsageRequest,
        UsageResult,
        UtcDay,
    )
    from credits_tui.api_client.models.wire import (
        CENT,
        MONEY_PATTERN,
        ErrorDetail,
        ErrorEnvelope,
        IsoDateTime,
        Money,
        ResponseModel,
        WireModel,
        cents_to_decimal,
        decimal_to_cents,
        format_money,
        parse_money,
    )

_NAMES_BY_MODULE: dict[str, tuple[str, ...]] = {
    "account": ("AccountRef", "AccountUser", "Me", "Role", "TokenRequest", "TokenResponse", "UserList", "UserRef"),
    "alerts": ("AUTO_RECHARGE_MAX_FAILURES", "AUTO_RECHARGE_MIN_CHARGE", "AutoRecharge", "AutoRechargeFailure",
               "AutoRechargeUpdate", "Notification", "NotificationKind", "NotificationPage", "NotificationSettings",
               "NotificationSettingsUpdate", "recharge_to_problem"),
    "audit": ("AUDIT_ACTIONS", "AuditAction", "AuditDetailValue", "AuditEvent", "AuditOutcome", "AuditPage",
              "AuditQuery"),
    "billing": ("Invoice", "InvoiceLine", "InvoiceList", "InvoiceStatus", "Receipt", "ReceiptCard", "Seller"),
    "cards": ("BillingAddress", "CardInput", "CardPatch", "CardSummary"),
    "credits": ("MINIMUM_PURCHASE", "AccountStatus", "Purchase", "PurchaseAmount", "PurchaseRequest", "PurchaseResult"),
    "transactions": ("Transaction", "TransactionPage", "TransactionQuery", "TransactionSummary", "TransactionType"),
    "usage": ("BillingMode", "DailyUsage", "DailyUsageDay", "FreeQuota", "PriceCatalog", "ProcessTypePrice",
              "UsageRequest", "UsageResult", "UtcDay"),
    "wire": ("CENT", "MONEY_PATTERN", "ErrorDetail", "ErrorEnvelope", "IsoDateTime", "Money", "ResponseModel",
             "WireModel", "cents_to_decimal", "decimal_to_cents", "format_money", "parse_money"),
}
_MODULE_OF = {name: module for module, names in _NAMES_BY_MODULE.items() for name in names}
__all__ = sorted(_MODULE_OF)


def _import_on_first_use(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # asked once: later look-ups find it without this hook
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if not TYPE_CHECKING:  # a type checker that saw a module __getattr__ would let any misspelt name through
    __getattr__ = _import_on_first_use
