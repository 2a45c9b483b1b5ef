"""The ledger's search words are case-folded and without accents

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 16:10:00

Searches compare folded words now (services/ledger.py ``fold``): "WEISS" finds "Weiß",
"ΛΟΓΟΣ" finds "λόγος", and "cafe" finds "Café" on PostgreSQL too. The rows already there get
their words folded the same way, as ``search_words`` folds them when this runs.

Folding the stored words is not always enough. The code before split a word at a combining
mark, which is not a letter to it: "İstanbul" (whose lower case is "i" and a dot above) was
stored as "i stanbul", and a "crème" typed with a separate accent as "cre me". Only the row's
own texts can join them again, so the words of those of its texts (description, reference,
user) that hold such a character are folded and added to what was stored (which holds the
catalog's label of the time too, and so is kept). Only rows with text outside ASCII can
change, so only those are read, and only the changed ones written.

SQLite's external-content FTS5 index is told of each change (the old words out, the new ones
in); PostgreSQL's search vector is a generated column and follows by itself. The downgrade
leaves the words folded: folding loses what it folds ("weiss" cannot become "weiß" again);
the earlier code still finds them typed in plain letters.
"""

import re
from typing import Any

from alembic import op
from sqlalchemy import Connection, Row, text

from credits_tui.backend.services.ledger import search_words

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_BATCH = 5_000


# Where the code before split a word and folding now keeps it whole: İ (whose lower case is "i"
# and a combining dot above) and the accents that folding drops.
_SPLIT_AT = re.compile("[\u0130\u0300-\u036f]")
# The rows that can change, as SQL. Stored words outside ASCII: more bytes than characters.
# A text with a character of _SPLIT_AT: on SQLite, a byte that starts U+0300–U+037F in UTF-8
# or the bytes of İ, found as fast as the length check (a million rows in 1.4 s here; a GLOB
# of the range took 3.6 s for each column). Python then decides on each row.
_CAN_CHANGE = {
    "sqlite": ("length(CAST(t.search_text AS BLOB)) <> length(t.search_text)",
               "(instr(CAST({0} AS BLOB), X'CC') + instr(CAST({0} AS BLOB), X'CD') "
               "+ instr(CAST({0} AS BLOB), X'C4B0')) > 0"),
    "postgresql": ("octet_length(t.search_text) <> char_length(t.search_text)",
                   "{0} ~ '[\\u0130\\u0300-\\u036f]'"),
}


def upgrade() -> None:
    bind = op.get_bind()
    folded_words, split_at = _CAN_CHANGE["sqlite" if bind.dialect.name == "sqlite" else "postgresql"]
    can_change = " OR ".join([folded_words, *(split_at.format(column)
                                              for column in ("t.description", "t.reference", "u.name", "u.email"))])
    batch = text(
        "SELECT t.id, t.search_text, t.description, t.reference, u.name, u.email "
        "FROM transactions t LEFT JOIN users u ON u.id = t.user_id "
        f"WHERE t.id > :after AND ({can_change}) ORDER BY t.id LIMIT :size")
    after = 0
    while rows := bind.execute(batch, {"after": after, "size": _BATCH}).all():
        after = rows[-1].id
        changed = [{"row_id": row.id, "old": row.search_text, "new": new} for row in rows
                   if (new := _folded(row)) != row.search_text]
        _rewrite(bind, changed)


def _folded(row: Row[Any]) -> str:
    stored: str = row.search_text
    split = [source for source in (row.name, row.email, row.description, row.reference)
             if source and _SPLIT_AT.search(source)]
    if stored.isascii() and not split:
        return stored  # lower-cased letter and digit runs are folded already
    words = search_words(stored)
    known = set(words)
    return " ".join(words + [word for word in search_words(*split) if word not in known])


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
