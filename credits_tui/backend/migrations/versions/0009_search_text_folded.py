"""The ledger's search words are case-folded and without accents

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 16:10:00

Searches compare folded words now (services/ledger.py ``fold``): "WEISS" finds "Weiß",
"ΛΟΓΟΣ" finds "λόγος", and "cafe" finds "Café" on PostgreSQL too. The rows already there get
their words folded the same way; only text outside ASCII can change, so only those rows are
read and written. SQLite's external-content FTS5 index is told of each change (the old words
out, the new ones in); PostgreSQL's search vector is a generated column and follows by
itself. The downgrade leaves the words folded: folding loses what it folds ("weiss" cannot
become "weiß" again), and the earlier code still finds folded words by their ASCII letters.
"""

from alembic import op
from sqlalchemy import Connection, text

from credits_tui.backend.services.ledger import search_words

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_BATCH = 5_000


def upgrade() -> None:
    bind = op.get_bind()
    # More bytes than characters: the text holds something outside ASCII.
    outside_ascii = ("length(CAST(search_text AS BLOB)) <> length(search_text)" if bind.dialect.name == "sqlite"
                     else "octet_length(search_text) <> char_length(search_text)")
    batch = text(f"SELECT id, search_text FROM transactions WHERE id > :after AND {outside_ascii} "
                 "ORDER BY id LIMIT :size")
    after = 0
    while rows := bind.execute(batch, {"after": after, "size": _BATCH}).all():
        after = rows[-1].id
        changed = [{"row_id": row.id, "old": row.search_text, "new": " ".join(search_words(row.search_text))}
                   for row in rows]
        _rewrite(bind, [change for change in changed if change["new"] != change["old"]])


def _rewrite(bind: Connection, changed: list[dict[str, object]]) -> None:
    if not changed:
        return
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        bind.execute(text("INSERT INTO transactions_fts(transactions_fts, rowid, search_text) "
                          "VALUES ('delete', :row_id, :old)"), changed)
    bind.execute(text("UPDATE transactions SET search_text = :new WHERE id = :row_id"), changed)
    if sqlite:
        bind.execute(text("INSERT INTO transactions_fts(rowid, search_text) VALUES (:row_id, :new)"), changed)


def downgrade() -> None:
    pass
