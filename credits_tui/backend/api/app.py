"""The FastAPI application factory."""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections.abc import AsyncIterator

from fastapi import FastAPI
from pydantic.warnings import UnsupportedFieldAttributeWarning

from credits_tui.backend.api.deps import Services
from credits_tui.backend.api.errors import StrictJsonBodies, install_error_handlers
from credits_tui.backend.api.routes import router
from credits_tui.backend.api.routes_alerts import router as alerts_router
from credits_tui.backend.api.routes_audit import router as audit_router
from credits_tui.backend.api.routes_insight import router as insight_router
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.logging import install_redaction
from credits_tui.backend.services import mail_sender
from credits_tui.backend.services.accounts import AccountService
from credits_tui.backend.services.auth import AuthService
from credits_tui.backend.services.billing import BillingService
from credits_tui.backend.services.credits import CreditsService
from credits_tui.backend.services.payments import PaymentGateway, TestGateway
from credits_tui.backend.services.transactions import TransactionService
from credits_tui.collector import freeze_what_start_up_made

API_PREFIX = "/api/v1"


def build_services(database: Database, settings: Settings, gateway: PaymentGateway) -> Services:
    return Services(
        auth=AuthService(database, settings),
        accounts=AccountService(database, settings),
        billing=BillingService(database, settings, gateway),
        credits=CreditsService(database, settings, gateway),
        transactions=TransactionService(database, settings),
    )


def create_app(settings: Settings | None = None, *, database: Database | None = None,
               gateway: PaymentGateway | None = None, migrate: bool = True) -> FastAPI:
    settings = settings or Settings.from_env()
    database = database or Database(settings.database_url)
    if migrate:
        # Imported here: uvicorn's workers (``app_from_env``) never migrate and need no Alembic.
        from credits_tui.backend.db.migrate import upgrade

        upgrade(database)
    install_redaction()
    # The wire models are built on first use (a quick CLI command needs one or two), so FastAPI's
    # parser of a request body is built at its first request, where pydantic takes the alias
    # FastAPI gives the body (its parameter's name) for a misplaced one and warns, on the terminal
    # of `serve` and `demo` (pydantic/pydantic#12356). No model of this project sets an alias.
    warnings.filterwarnings("ignore", r"The 'alias' attribute with value '\w+' was provided to the `Field\(\)`",
                            UnsupportedFieldAttributeWarning)
    app = FastAPI(
        title="credits-tui reference backend",
        summary="Purchase Credits: balance, card on file, purchases and the transaction ledger.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=_mail_sent_while_serving,
    )
    bind(app, settings, database, gateway)
    install_error_handlers(app)
    app.add_middleware(StrictJsonBodies)
    app.include_router(router, prefix=API_PREFIX)
    app.include_router(insight_router, prefix=API_PREFIX)
    app.include_router(alerts_router, prefix=API_PREFIX)
    app.include_router(audit_router, prefix=API_PREFIX)
    return app


def bind(app: FastAPI, settings: Settings, database: Database, gateway: PaymentGateway | None = None) -> None:
    """Point the app at a database: everything a request or the lifespan needs is read from
    ``app.state`` when it runs, so an app may be bound again between two runs (the tests do)."""
    app.state.settings = settings
    app.state.database = database
    app.state.services = build_services(database, settings, gateway or TestGateway(database))


@contextlib.asynccontextmanager
async def _mail_sent_while_serving(app: FastAPI) -> AsyncIterator[None]:
    async with mail_sender.sending(app.state.database, app.state.settings):
        yield


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in each worker (``--workers N``); migrations ran before.

    A worker is a server process of its own, so what it has made by now is frozen out of the
    full garbage collections (the app and tests that embed the backend freeze for themselves).
    The garbage is collected first: with one worker, the migrations and a demo's seeding ran in
    this same process, and what they left would otherwise be kept for good.
    """
    app = create_app(migrate=False)
    gc.collect()
    freeze_what_start_up_made()
    return app
