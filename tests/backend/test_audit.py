"""The audit log (issue 11, DESIGN.md §8): one row per audited action, failures included, with
no secret in any row; admins of the account only; filtered and keyset-paged."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from credits_tui.api_client.models import AUDIT_ACTIONS
from credits_tui.backend.db.schema import Account, AuditEvent, LedgerTransaction, User
from credits_tui.backend.demo import DEMO_PASSWORD
from credits_tui.backend.services.audit import NOT_AN_EMAIL

ADMIN = "admin@demo.example"
OTHER_ADMIN = "other-admin@demo.example"
CVC = "739"


def card_body(number: str = "4242424242424242", *, cvc: str = CVC) -> dict:
    return {"cardholder_name": "Ada Admin", "number": number, "exp_month": 11,
            "exp_year": datetime.now(UTC).year + 4, "cvc": cvc,
            "billing_address": {"line1": "1 Demo Way", "city": "Chicago", "region": "IL",
                                "postal_code": "60601", "country": "US"}}


def last_id(database) -> int:
    with database.read() as session:
        return session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))


def rows_after(database, start: int) -> list[AuditEvent]:
    with database.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.id > start).order_by(AuditEvent.id)))


def user_id(database, email: str) -> int:
    with database.read() as session:
        return session.scalar(select(User.id).where(User.email == email))


def the_one_row(database, start: int) -> AuditEvent:
    rows = rows_after(database, start)
    assert len(rows) == 1, [(r.action, r.outcome, r.detail) for r in rows]
    return rows[0]


def buy(client, amount: str = "5.00", key: str | None = None):
    return client.post("/credits/purchases", json={"amount": amount},
                       headers={"Idempotency-Key": key or str(uuid.uuid4())})


# --- one row per action, also on failure --------------------------------------------------


def test_a_sign_in_writes_one_row_with_its_user(module_api):
    db, start = module_api.database, last_id(module_api.database)
    module_api.as_user(ADMIN)
    row = the_one_row(db, start)
    admin_id = user_id(db, ADMIN)
    assert (row.action, row.outcome, row.actor_id, row.target) == ("auth.sign_in", "success", admin_id,
                                                                    f"user:{admin_id}")
    assert row.detail["email"] == ADMIN and isinstance(row.detail["token_id"], int)
    assert row.ip == "testclient"  # the client address the sign-in limits count


def test_a_wrong_password_writes_one_failure_row_for_the_users_account(module_api):
    db, start = module_api.database, last_id(module_api.database)
    response = module_api.client.post("/api/v1/auth/tokens", json={"email": ADMIN, "password": "wrong-horse-42"})
    assert response.status_code == 401
    row = the_one_row(db, start)
    assert (row.action, row.outcome, row.actor_id) == ("auth.sign_in", "failure", None)
    assert row.target == f"user:{user_id(db, ADMIN)}"
    assert row.account_id is not None and row.detail == {"email": ADMIN}


def test_a_failed_sign_in_for_no_user_belongs_to_no_account_and_a_password_typed_as_email_is_masked(module_api):
    db, start = module_api.database, last_id(module_api.database)
    for email in ("nobody@nowhere.example", "Tr0ub4dor&3-secret"):
        response = module_api.client.post("/api/v1/auth/tokens", json={"email": email, "password": "x"})
        assert response.status_code == 401
    unknown, typed_password = rows_after(db, start)
    assert unknown.account_id is None and unknown.detail == {"email": "nobody@nowhere.example"}
    assert typed_password.account_id is None and typed_password.detail == {"email": NOT_AN_EMAIL}
    # Visible to nobody: no account's admin lists them.
    for email in (ADMIN, OTHER_ADMIN):
        listed = module_api.signed(email).get("/account/audit", params={"limit": 500}).json()["items"]
        assert not {unknown.id, typed_password.id} & {item["id"] for item in listed}


def test_sign_out_writes_one_row(module_api):
    client = module_api.as_user(ADMIN)
    db, start = module_api.database, last_id(module_api.database)
    assert client.delete("/auth/tokens/current").status_code == 204
    row = the_one_row(db, start)
    assert (row.action, row.outcome, row.actor_id) == ("auth.sign_out", "success", user_id(db, ADMIN))
    assert row.target.startswith("token:")


def test_card_replace_declined_edit_and_removal_each_write_one_row(module_api):
    admin, db = module_api.signed(ADMIN), module_api.database

    start = last_id(db)
    assert admin.put("/billing/card", json=card_body("5555555555554444")).status_code == 200
    row = the_one_row(db, start)
    assert (row.action, row.outcome) == ("card.replace", "success")
    assert row.detail == {"brand": "mastercard", "last4": "4444", "replaced_brand": "visa",
                          "replaced_last4": "4242"}

    start = last_id(db)
    refused = admin.put("/billing/card", json=card_body("4000000000000002"))
    assert refused.status_code == 402
    row = the_one_row(db, start)
    assert (row.action, row.outcome) == ("card.replace", "declined")
    assert row.detail == {"code": "card_declined", "brand": "visa", "last4": "0002"}

    # A typo fails the wire model's Luhn check (CardInput) before any card action starts: the
    # request is refused as malformed and there is no action to audit.
    start = last_id(db)
    typo = admin.put("/billing/card", json=card_body("4242 4242 4242 4241"))
    assert typo.status_code == 422 and typo.json()["error"]["code"] == "invalid_card_number"
    assert last_id(db) == start

    start = last_id(db)
    assert admin.patch("/billing/card", json={"cardholder_name": "Ada Lovelace"}).status_code == 200
    row = the_one_row(db, start)
    assert (row.action, row.outcome, row.detail) == ("card.edit", "success",
                                                     {"fields": "cardholder_name", "last4": "4444"})

    start = last_id(db)
    expired = admin.patch("/billing/card", json={"exp_month": 1, "exp_year": 2020})
    assert expired.status_code == 422
    row = the_one_row(db, start)
    assert (row.action, row.outcome) == ("card.edit", "failure")
    assert row.detail == {"fields": "exp_month,exp_year", "code": "card_expired"}

    start = last_id(db)
    assert admin.delete("/billing/card").status_code == 409
    row = the_one_row(db, start)
    assert (row.action, row.outcome, row.target) == ("card.remove_refused", "refused", "card")

    assert admin.put("/billing/card", json=card_body()).status_code == 200  # back to the 4242


def test_a_first_card_is_an_add(module_api):
    other, db = module_api.signed(OTHER_ADMIN), module_api.database
    if other.get("/billing/card").status_code == 200:
        pytest.skip("Other Co. has a card already in this module's database")
    start = last_id(db)
    assert other.put("/billing/card", json=card_body("4000000000000341")).status_code == 200
    row = the_one_row(db, start)
    assert (row.action, row.outcome, row.detail) == ("card.add", "success", {"brand": "visa", "last4": "0341"})


def test_auto_recharge_and_alert_settings_write_one_row_each_also_when_refused(module_api):
    admin, db = module_api.signed(ADMIN), module_api.database
    admin_id, support_id = user_id(db, ADMIN), user_id(db, "support@demo.example")

    start = last_id(db)
    saved = admin.put("/billing/auto-recharge", json={"enabled": True, "threshold": "300.00", "recharge_to": "900.00"})
    assert saved.status_code == 200, saved.text
    row = the_one_row(db, start)
    assert (row.action, row.outcome, row.actor_id, row.target) == ("auto_recharge.update", "success", admin_id,
                                                                   "auto_recharge")
    assert row.detail == {"enabled": True, "threshold": "300.00", "recharge_to": "900.00"}

    start = last_id(db)
    refused = admin.put("/billing/auto-recharge", json={"enabled": True, "threshold": "300.00", "recharge_to": "50.00"})
    assert refused.status_code == 422
    row = the_one_row(db, start)
    assert (row.action, row.outcome) == ("auto_recharge.update", "refused")
    assert row.detail["code"] == "recharge_to_not_above_threshold" and row.detail["recharge_to"] == "50.00"

    start = last_id(db)
    saved = admin.put("/billing/notifications", json={"low_balance_threshold": "75.00",
                                                      "recipients": [admin_id, support_id]})
    assert saved.status_code == 200, saved.text
    row = the_one_row(db, start)
    assert (row.action, row.outcome, row.target) == ("alerts.update", "success", "alerts")
    assert row.detail == {"low_balance_threshold": "75.00", "recipients": f"{admin_id},{support_id}"}

    start = last_id(db)
    assert admin.put("/billing/notifications", json={"recipients": [987654]}).status_code == 422
    row = the_one_row(db, start)
    assert (row.action, row.outcome, row.detail["code"]) == ("alerts.update", "refused", "unknown_recipient")


def test_purchases_write_one_row_each_success_decline_and_refusal_but_not_a_replay(module_api):
    admin, other, db = module_api.signed(ADMIN), module_api.signed(OTHER_ADMIN), module_api.database

    start, key = last_id(db), str(uuid.uuid4())
    bought = buy(admin, "12.50", key)
    assert bought.status_code == 201
    row = the_one_row(db, start)
    transaction_id = bought.json()["transaction"]["id"]
    assert (row.action, row.outcome, row.target) == ("purchase.create", "success", f"transaction:{transaction_id}")
    assert row.detail == {"amount": "12.50", "last4": "4242", "transaction_id": transaction_id}

    start = last_id(db)
    assert buy(admin, "12.50", key).headers.get("Idempotent-Replayed") == "true"
    assert rows_after(db, start) == []  # the same purchase, answered again

    start = last_id(db)
    assert buy(admin, "20000.00").status_code == 422
    row = the_one_row(db, start)
    assert (row.outcome, row.detail) == ("refused", {"amount": "20000.00", "code": "amount_above_maximum"})

    # Other Co.'s card charges nothing: attached fine, every charge declined.
    if other.get("/billing/card").status_code != 200:
        assert other.put("/billing/card", json=card_body("4000000000000341")).status_code == 200
    start, key = last_id(db), str(uuid.uuid4())
    declined = buy(other, "5.00", key)
    assert declined.status_code == 402
    row = the_one_row(db, start)
    assert (row.action, row.outcome, row.target) == ("purchase.create", "declined", None)
    assert row.detail == {"amount": "5.00", "last4": "0341", "brand": "visa", "code": "card_declined"}
    start = last_id(db)
    assert buy(other, "5.00", key).status_code == 402
    assert rows_after(db, start) == []  # the stored decline, replayed


def test_a_csv_export_is_recorded_before_it_streams_and_a_bad_one_as_a_failure(module_api):
    support, db = module_api.signed("support@demo.example"), module_api.database
    start = last_id(db)
    with support._client.stream("GET", "/api/v1/credits/transactions.csv", params={"transaction_type": "purchase"},
                                headers=support.headers) as response:
        assert response.status_code == 200
        row = the_one_row(db, start)  # there before a byte was read
        assert (row.action, row.outcome, row.actor_id) == ("transactions.export_csv", "success",
                                                           user_id(db, "support@demo.example"))
        assert row.detail == {"transaction_type": "purchase"}
        response.read()

    start = last_id(db)
    assert support.get("/credits/transactions.csv", params={"user": "nobody@x.example"}).status_code == 422
    row = the_one_row(db, start)
    assert (row.outcome, row.detail) == ("failure", {"user": "nobody@x.example", "code": "unknown_user"})


def test_too_many_sign_ins_are_recorded_as_refused_once_each(api):
    db = api.database
    for _ in range(5):
        api.client.post("/api/v1/auth/tokens", json={"email": ADMIN, "password": "guess"})
    start = last_id(db)
    limited = api.client.post("/api/v1/auth/tokens", json={"email": ADMIN, "password": DEMO_PASSWORD})
    assert limited.status_code == 429
    row = the_one_row(db, start)
    assert (row.action, row.outcome, row.actor_id, row.detail) == ("auth.sign_in", "refused", None,
                                                                   {"email": ADMIN})
    with db.read() as session:
        assert row.account_id == session.scalar(select(User.account_id).where(User.email == ADMIN))


# --- no secret in any row --------------------------------------------------------------------


def test_no_card_number_cvc_password_or_token_in_any_row(api):
    client = api.client
    tokens = [api.as_user(email).token for email in (ADMIN, OTHER_ADMIN)]
    admin, other = api.as_user(ADMIN), api.as_user(OTHER_ADMIN)
    tokens += [admin.token, other.token]
    numbers = ["4242424242424242", "5555555555554444", "4000000000000002", "4000000000000341",
               "4000000000000119", "4242424242424241"]
    passwords = [DEMO_PASSWORD, "wrong-horse-42", "hunter2-in-the-email-field"]
    client.post("/api/v1/auth/tokens", json={"email": ADMIN, "password": passwords[1]})
    client.post("/api/v1/auth/tokens", json={"email": passwords[2], "password": passwords[1]})
    for number in numbers:
        admin.put("/billing/card", json=card_body(number))
    other.put("/billing/card", json=card_body("4000000000000341"))
    admin.put("/billing/card", json=card_body())
    admin.patch("/billing/card", json={"exp_month": 12})
    admin.delete("/billing/card")
    buy(admin)
    buy(other)
    admin.get("/credits/transactions.csv")
    admin.delete("/auth/tokens/current")
    with api.database.read() as session:
        gateway_tokens = [t for (t,) in session.execute(text("SELECT gateway_token FROM cards"))]
        rows = session.execute(text("SELECT * FROM audit_events")).mappings().all()
    assert len(rows) >= 19  # every action above but the Luhn typo (refused before any card action)
    secrets = [*numbers, *passwords, *tokens, *gateway_tokens]
    actions = set()
    for row in rows:
        actions.add(row["action"])
        cells = " | ".join(json.dumps(v) if isinstance(v, dict) else str(v) for v in row.values())
        for secret in secrets:
            assert secret not in cells, (secret, row)
        assert not re.search(rf"\b{CVC}\b", cells), row
        assert "tok_" not in cells and "ct_" not in cells, row
    assert {"auth.sign_in", "auth.sign_out", "card.add", "card.replace", "card.edit", "card.remove_refused",
            "purchase.create", "transactions.export_csv"} <= actions


def test_the_safety_net_blanks_a_card_number_or_token_a_caller_slipped_in(module_api):
    from credits_tui.api_client.models import AuditAction, AuditOutcome
    from credits_tui.backend.services.audit import record

    with module_api.database.write() as session:
        record(session, account_id=None, actor=None, action=AuditAction.card_edit, target="card 4242 4242 4242 4242",
               ip=None, outcome=AuditOutcome.failure,
               detail={"note": "ct_" + "a" * 43, "number": "4000-0000-0000-0002", "last4": "0002"})
    with module_api.database.read() as session:
        row = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert row.target == "card [redacted]"
    assert row.detail == {"note": "[redacted]", "number": "[redacted]", "last4": "0002"}


# --- who may read it, and whose rows --------------------------------------------------------


@pytest.mark.parametrize("email", ["support@demo.example", "member@demo.example", "usage-bot@demo.example"])
def test_only_admins_read_the_audit_log(module_api, email):
    response = module_api.signed(email).get("/account/audit")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_required"


def test_an_admin_sees_only_the_rows_of_their_own_account(module_api):
    module_api.as_user(OTHER_ADMIN)
    module_api.as_user(ADMIN)
    # Signed in before counting: the module's clients sign in when first asked for, which adds
    # a row (whether an earlier test of the module has asked depends on the order tests run in).
    readers = {email: module_api.signed(email) for email in (ADMIN, OTHER_ADMIN)}
    db = module_api.database
    with db.read() as session:
        accounts = dict(session.execute(select(User.email, User.account_id)).all())
        by_account = dict(session.execute(select(AuditEvent.account_id, func.count()).group_by(AuditEvent.account_id))
                          .all())
    for email, reader in readers.items():
        items = all_pages(reader, limit=500)
        assert len(items) == by_account[accounts[email]]
        for item in items:
            assert item["actor"] is None or accounts[item["actor"]["email"]] == accounts[email], item
    other = module_api.signed(OTHER_ADMIN)
    for stranger in (ADMIN, str(user_id(db, ADMIN)), "9" * 25):
        response = other.get("/account/audit", params={"actor": stranger})
        assert response.status_code == 422 and response.json()["error"]["code"] == "unknown_user"


# --- filters and paging ------------------------------------------------------------------------


def all_pages(client, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get("/account/audit", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def test_filters_and_keyset_paging_newest_first(module_api):
    admin = module_api.signed(ADMIN)
    module_api.as_user("support@demo.example")
    buy(admin, "3.00")
    admin.get("/credits/transactions.csv")
    everything = all_pages(admin, limit=500)
    assert [i["id"] for i in everything] == sorted((i["id"] for i in everything), reverse=True)

    paged = all_pages(admin, limit=2)
    assert paged == everything

    purchases = all_pages(admin, action="purchase.create", limit=3)
    assert purchases and all(i["action"] == "purchase.create" for i in purchases)
    two = all_pages(admin, action=["purchase.create", "transactions.export_csv"])
    assert {i["action"] for i in two} == {"purchase.create", "transactions.export_csv"}
    assert len(two) == len([i for i in everything if i["action"] in ("purchase.create", "transactions.export_csv")])

    support_id = user_id(module_api.database, "support@demo.example")
    by_email = all_pages(admin, actor="support@demo.example")
    assert by_email == all_pages(admin, actor=str(support_id))
    assert by_email and all(i["actor"]["id"] == support_id for i in by_email)

    newest = datetime.fromisoformat(everything[0]["at"])
    assert all_pages(admin, since=(newest + timedelta(seconds=1)).isoformat()) == []
    assert all_pages(admin, until=(newest - timedelta(days=3650)).isoformat()) == []
    window = all_pages(admin, since=newest.isoformat())
    assert window and all(datetime.fromisoformat(i["at"]) >= newest for i in window)

    assert admin.get("/account/audit", params={"action": "card.burn"}).status_code == 422
    assert admin.get("/account/audit", params={"cursor": "nope"}).json()["error"]["code"] == "invalid_cursor"


def test_the_actions_list_is_the_contract():
    assert AUDIT_ACTIONS[:8] == ("auth.sign_in", "auth.sign_out", "card.add", "card.replace", "card.edit",
                                 "card.remove_refused", "purchase.create", "transactions.export_csv")
    assert len(set(AUDIT_ACTIONS)) == len(AUDIT_ACTIONS)


# --- append-only, and the demo's history --------------------------------------------------------


def test_postgresql_refuses_to_rewrite_an_audit_row(module_api, database_kind):
    if database_kind != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    module_api.as_user(ADMIN)
    with pytest.raises(DBAPIError, match="append-only"), module_api.database.write() as session:
        session.execute(update(AuditEvent).values(outcome="success"))
    with pytest.raises(DBAPIError, match="append-only"), module_api.database.write() as session:
        session.execute(text("DELETE FROM audit_events"))


def test_the_demo_history_matches_the_ledger(seeded):
    """The demo (seed_demo calls seed_audit_history): a sign-in and a purchase row per purchase."""
    with seeded.read() as session:
        demo = session.scalars(select(Account).where(Account.name == "Demo Co.")).one()
        purchases = session.execute(select(LedgerTransaction.id, LedgerTransaction.user_id).where(
            LedgerTransaction.account_id == demo.id, LedgerTransaction.transaction_type == "purchase")).all()
        rows = session.scalars(select(AuditEvent).where(AuditEvent.account_id == demo.id)
                               .order_by(AuditEvent.id)).all()
    assert len(rows) == 2 * len(purchases) + 1
    bought = [r for r in rows if r.action == "purchase.create"]
    assert [(r.target, r.actor_id) for r in bought] == [(f"transaction:{t}", u) for t, u in purchases]
    assert rows[0].action == "auth.sign_in" and rows[1].action == "card.add"
    assert [r.at for r in rows] == sorted(r.at for r in rows)
