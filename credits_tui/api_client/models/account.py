"""Who is signed in: users, their roles and account, and the sign-in token (DESIGN.md §3)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from credits_tui.api_client.models.wire import ResponseModel, WireModel


class Role(StrEnum):
    admin = "admin"
    support = "support"
    member = "member"
    service = "service"


class AccountRef(ResponseModel):
    id: int
    name: str


class UserRef(ResponseModel):
    id: int
    name: str
    email: str


class AccountUser(UserRef):
    role: Role


class Me(AccountUser):
    account: AccountRef


class UserList(ResponseModel):
    items: list[AccountUser]


class TokenRequest(WireModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(ResponseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    user: Me
