"""Request dependencies: the services and the signed-in principal with its role checked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from credits_tui.api_client.models import Role
from credits_tui.backend.errors import Forbidden, Unauthorized
from credits_tui.backend.services.accounts import AccountService
from credits_tui.backend.services.auth import AuthService, Principal
from credits_tui.backend.services.billing import BillingService
from credits_tui.backend.services.credits import CreditsService
from credits_tui.backend.services.transactions import TransactionService


@dataclass(frozen=True)
class Services:
    auth: AuthService
    accounts: AccountService
    billing: BillingService
    credits: CreditsService
    transactions: TransactionService


# Dependencies that do no blocking work are ``async``: FastAPI runs a plain ``def`` one in a
# worker thread, a hop that costs more than the work. Only ``current_principal`` (a database
# lookup) and the handlers themselves run in threads.


async def services(request: Request) -> Services:
    svc: Services = request.app.state.services  # set by bind (create_app)
    return svc


ServicesDep = Annotated[Services, Depends(services)]


async def client_address(request: Request) -> str:
    """The caller's address, which the sign-in limits count.

    Behind a reverse proxy this is the address the proxy names in X-Forwarded-For: uvicorn
    puts it in place of the proxy's own when ``serve --forwarded-allow-ips`` trusts the proxy.
    """
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]
_bearer = HTTPBearer(auto_error=False, description="The token from POST /auth/tokens")


def current_principal(
    request: Request,
    svc: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("authentication_required", "Sign in first: send 'Authorization: Bearer <token>'.")
    # Authentication is blocking database work: FastAPI runs sync dependencies in a thread.
    return svc.auth.authenticate(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(current_principal)]

CREDITS_VIEW_DENIED = ("You must have administrative rights to view Purchase Credits. "
                       "Contact your company's Lead Liaison Administrator.")


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            if Role.support in roles or principal.role in (Role.member, Role.service):
                raise Forbidden("admin_required", CREDITS_VIEW_DENIED)
            raise Forbidden("admin_required", "Only administrators can do this. Your role can view Purchase "
                                              "Credits but not change billing or buy credits.")
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.admin, Role.support))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
UsageRecorder = Annotated[Principal, Depends(require(Role.admin, Role.service))]
