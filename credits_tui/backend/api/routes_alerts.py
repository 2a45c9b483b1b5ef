"""Never run out (DESIGN.md §7): auto-recharge, alert settings and the notifications list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from credits_tui.api_client.models import (
    AutoRecharge,
    AutoRechargeUpdate,
    ErrorEnvelope,
    NotificationPage,
    NotificationSettings,
    NotificationSettingsUpdate,
)
from credits_tui.backend.api.deps import Admin, ClientAddress, ServicesDep, Viewer
from credits_tui.backend.services.audit import Origin
from credits_tui.backend.services.auto_recharge import AutoRechargeService
from credits_tui.backend.services.notifications import NotificationService

router = APIRouter(responses={status: {"model": ErrorEnvelope} for status in (401, 403, 409, 422)})


def auto_recharge_service(svc: ServicesDep) -> AutoRechargeService:
    return svc.credits.auto_recharge  # the one that also runs the rule after debits


def notification_service(request: Request) -> NotificationService:
    return NotificationService(request.app.state.database, request.app.state.settings)


AutoRechargeDep = Annotated[AutoRechargeService, Depends(auto_recharge_service)]
NotificationsDep = Annotated[NotificationService, Depends(notification_service)]


@router.get("/billing/auto-recharge", response_model=AutoRecharge, tags=["billing"])
def get_auto_recharge(principal: Viewer, service: AutoRechargeDep) -> AutoRecharge:
    return service.get(principal.account_id)


@router.put("/billing/auto-recharge", response_model=AutoRecharge, tags=["billing"])
def put_auto_recharge(body: AutoRechargeUpdate, principal: Admin, client: ClientAddress,
                      service: AutoRechargeDep) -> AutoRecharge:
    return service.put(Origin.of(principal, client), body)


@router.get("/billing/notifications", response_model=NotificationSettings, tags=["billing"])
def get_notification_settings(principal: Viewer, service: NotificationsDep) -> NotificationSettings:
    return service.get_settings(principal.account_id)


@router.put("/billing/notifications", response_model=NotificationSettings, tags=["billing"])
def put_notification_settings(body: NotificationSettingsUpdate, principal: Admin, client: ClientAddress,
                              service: NotificationsDep) -> NotificationSettings:
    return service.put_settings(Origin.of(principal, client), body)


@router.get("/account/notifications", response_model=NotificationPage, tags=["account"])
def notifications(
    principal: Viewer,
    service: NotificationsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> NotificationPage:
    return service.page(principal.account_id, limit=limit, cursor=cursor)
