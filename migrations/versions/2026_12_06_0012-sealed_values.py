"""sealed_values: every event's sealed values and salt apart from `events`, erasable

Revision ID: 0012_sealed_values
Revises: 0011_unused_id_function_dropped
Create Date: 2026-12-06 00:12:00

SPEC §4 "Erasure without rewriting". Until now an event's `data` (clear and sealed
fields), `metadata` and `salt` sat in its append-only `events` row, where nothing could
ever erase them. After this migration:

- `events` holds the envelope, the CLEAR fields of `data` (SPEC §7.1) and `sealed`, the
  digest `SHA-256(salt || JCS({data: <sealed fields>, metadata}))` that the leaf commits to
  (computed here from the values, once: the leaf and hash of every event are unchanged).
  It stays append-only (its triggers are made again on the new table).
- `sealed_values(position, data, metadata, salt, erased_by)` holds the SEALED fields of
  `data`, the `metadata` and the `salt`. Its triggers refuse DELETE and TRUNCATE, and
  UPDATE unless it is an erasure the log records: the salt dropped, `erased_by` set to
  the position of an `ErasureRecorded` event of `events` that names this position, the
  metadata replaced by `{"erased": true, "by": erased_by}`, and each sealed field either
  replaced by that marker or left as it was (`events.disclosure.KEPT_ON_ERASURE`).

The move is a new `events` table filled from the old one page by page (so the old one's
append-only triggers never need lifting), the old one dropped, the new one renamed, on
both backends. Nothing a v2 log holds is refused: every row moves, whatever its data.
Afterwards the old rows' bytes may linger in free pages (PostgreSQL until VACUUM, SQLite
until reused, zeroed with `secure_delete`): docs/OPERATIONS.md says what to run.

The downgrade moves the values back into one table (0011's shape), and refuses a log in
which an erasure destroyed some: their salts and values are gone, and a v2 row without
them cannot be written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from events.disclosure import sealed_digest, split

revision: str = "0012_sealed_values"
down_revision: str | None = "0011_unused_id_function_dropped"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from events.schema (see 0001).
UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.String(27), "sqlite")
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PAGE = 5000

_ENVELOPE = (
    "position, event_id, stream_id, stream_version, event_type, schema_version,"
    " occurred_at, recorded_at, prev_hash, hash"
)


def _events_table(table: str, *, split_form: bool) -> list[Any]:
    """The columns and constraints of `events` (this revision's, or 0011's), for a table
    made as `table` and renamed `events`: on PostgreSQL its constraints are named after
    `table` until `_name_as_events` (constraint names are the schema's there), on SQLite
    after `events` at once (they are words of the table's definition)."""
    name = table if _postgres() else "events"
    columns: list[Any] = [
        sa.Column("position", POSITION, autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("stream_id", sa.Text(), nullable=False),
        sa.Column("stream_version", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    ]
    if not split_form:
        columns.append(sa.Column("metadata", sa.JSON(), nullable=False))
    columns += [
        sa.Column("occurred_at", UTC_TIME, nullable=False),
        sa.Column("recorded_at", UTC_TIME, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    ]
    if split_form:
        columns.append(
            sa.Column(
                "sealed",
                sa.String(64),
                sa.CheckConstraint("length(sealed) = 64", name=op.f(f"ck_{name}_sealed_length")),
                nullable=False,
            )
        )
    else:
        columns.append(
            sa.Column(
                "salt",
                sa.String(64),
                sa.CheckConstraint("length(salt) = 64", name=op.f(f"ck_{name}_salt_length")),
                nullable=False,
            )
        )
    return [
        *columns,
        sa.PrimaryKeyConstraint("position", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint(
            "stream_id", "stream_version", name=op.f(f"uq_{name}_stream_id_stream_version")
        ),
    ]


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _json(text: Any) -> Any:
    """A JSON column's value as the driver returns it (text, or already decoded)."""
    return orjson.loads(text) if isinstance(text, str | bytes) else text


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "sealed_values",
        sa.Column("position", POSITION, autoincrement=False, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("salt", sa.String(64), nullable=True),
        sa.Column("erased_by", POSITION, nullable=True),
        sa.PrimaryKeyConstraint("position", name="pk_sealed_values"),
    )
    op.create_table("events_split", *_events_table("events_split", split_form=True))
    new_events = sa.table(
        "events_split",
        *(sa.column(name) for name in _ENVELOPE.split(", ")),
        sa.column("data", sa.JSON()),
        sa.column("sealed"),
    )
    sealed_values = sa.table(
        "sealed_values",
        sa.column("position"),
        sa.column("data", sa.JSON()),
        sa.column("metadata", sa.JSON()),
        sa.column("salt"),
    )
    text = "::text" if _postgres() else ""
    query = sa.text(
        f"SELECT {_ENVELOPE}, data{text}, metadata{text}, salt FROM events"
        " WHERE position > :after ORDER BY position LIMIT :limit"
    )
    after = 0
    while True:
        rows = bind.execute(query, {"after": after, "limit": PAGE}).all()
        if not rows:
            break
        moved: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        for row in rows:
            envelope = dict(zip(_ENVELOPE.split(", "), row[:10], strict=True))
            data, metadata, salt = _json(row[10]), _json(row[11]), row[12]
            clear, sealed = split(envelope["event_type"], envelope["schema_version"], data)
            digest = sealed_digest(salt, sealed, metadata)
            moved.append({**envelope, "data": clear, "sealed": digest})
            kept.append(
                {"position": envelope["position"], "data": sealed, "metadata": metadata}
                | {"salt": salt}
            )
        bind.execute(new_events.insert(), moved)
        bind.execute(sealed_values.insert(), kept)
        after = rows[-1][0]
    _drop_events()
    op.rename_table("events_split", "events")
    _name_as_events("events_split")
    _events_triggers()
    _sealed_values_triggers()


def _drop_events() -> None:
    """The old `events`, its index and its triggers."""
    op.drop_index("ix_events_event_id", table_name="events")
    if _postgres():
        op.execute("DROP TABLE events")  # its triggers go with it; their functions stay
    else:
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("DROP TRIGGER IF EXISTS events_no_delete")
        op.execute("DROP TABLE events")


def _name_as_events(old: str) -> None:
    """The renamed table's constraints named after `events` (on SQLite they are only
    words in its definition; PostgreSQL names them in the schema)."""
    if _postgres():
        for kind in ("pk", "uq"):
            suffix = "_stream_id_stream_version" if kind == "uq" else ""
            op.execute(
                f"ALTER TABLE events RENAME CONSTRAINT {kind}_{old}{suffix}"
                f" TO {kind}_events{suffix}"
            )
        for check in ("sealed", "salt"):
            op.execute(
                f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname ="
                f" 'ck_{old}_{check}_length') THEN ALTER TABLE events RENAME CONSTRAINT"
                f" ck_{old}_{check}_length TO ck_events_{check}_length; END IF; END $$"
            )
    op.create_index("ix_events_event_id", "events", ["event_id"], unique=True)


def _events_triggers() -> None:
    """0001's append-only triggers and 0003's notification, on the new table."""
    if _postgres():
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION docket_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
            "FOR EACH STATEMENT EXECUTE FUNCTION docket_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER events_notify AFTER INSERT ON events "
            "FOR EACH STATEMENT EXECUTE FUNCTION docket_notify_events()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER events_no_{operation.lower()} BEFORE {operation} ON events "
            "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
        )


#: The one UPDATE of `sealed_values` let through, in each dialect's SQL: an erasure that
#: an `ErasureRecorded` event in the log records (see the module's docstring).
_POSTGRES_ERASE_ONLY = """
CREATE FUNCTION docket_sealed_values_erase_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    marker jsonb;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.erased_by IS NULL AND NEW.erased_by IS NOT NULL
            AND NEW.salt IS NULL AND NEW.position = OLD.position THEN
        marker := jsonb_build_object('erased', true, 'by', NEW.erased_by);
        IF NEW.metadata::jsonb = marker
                AND NOT EXISTS (SELECT 1 FROM jsonb_each(NEW.data::jsonb) v
                                WHERE v.value <> marker
                                  AND v.value IS DISTINCT FROM OLD.data::jsonb -> v.key)
                AND ARRAY(SELECT jsonb_object_keys(NEW.data::jsonb) ORDER BY 1)
                    = ARRAY(SELECT jsonb_object_keys(OLD.data::jsonb) ORDER BY 1)
                AND EXISTS (SELECT 1 FROM events e
                            WHERE e.position = NEW.erased_by
                              AND e.event_type = 'ErasureRecorded'
                              AND (e.data::jsonb -> 'positions') @> to_jsonb(NEW.position))
        THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'sealed_values change only by an erasure the log records: % refused',
        TG_OP USING ERRCODE = 'restrict_violation';
END
$$
"""
_SQLITE_ERASE_ONLY = """
CREATE TRIGGER sealed_values_erase_only BEFORE UPDATE ON sealed_values
WHEN NOT (
    OLD.erased_by IS NULL AND NEW.erased_by IS NOT NULL AND NEW.salt IS NULL
    AND NEW.position = OLD.position
    AND json_extract(NEW.metadata, '$.erased') = 1
    AND json_extract(NEW.metadata, '$.by') = NEW.erased_by
    AND (SELECT count(*) FROM json_each(NEW.metadata)) = 2
    AND NOT EXISTS (
        SELECT 1 FROM json_each(NEW.data) v
        WHERE json_extract(OLD.data, v.fullkey) IS NOT v.value
          AND (v.type <> 'object'
               OR json_extract(v.value, '$.erased') IS NOT 1
               OR json_extract(v.value, '$.by') IS NOT NEW.erased_by
               OR (SELECT count(*) FROM json_each(v.value)) <> 2))
    AND (SELECT group_concat(key, ',') FROM (SELECT key FROM json_each(NEW.data) ORDER BY key))
        IS (SELECT group_concat(key, ',') FROM (SELECT key FROM json_each(OLD.data) ORDER BY key))
    AND EXISTS (
        SELECT 1 FROM events e, json_each(e.data, '$.positions') p
        WHERE e.position = NEW.erased_by AND e.event_type = 'ErasureRecorded'
          AND p.value = NEW.position)
)
BEGIN SELECT RAISE(ABORT, 'sealed_values change only by an erasure the log records'); END
"""


def _sealed_values_triggers() -> None:
    if _postgres():
        op.execute(_POSTGRES_ERASE_ONLY)
        op.execute(
            "CREATE TRIGGER sealed_values_erase_only BEFORE UPDATE OR DELETE ON sealed_values "
            "FOR EACH ROW EXECUTE FUNCTION docket_sealed_values_erase_only()"
        )
        op.execute(
            "CREATE TRIGGER sealed_values_no_truncate BEFORE TRUNCATE ON sealed_values "
            "FOR EACH STATEMENT EXECUTE FUNCTION docket_refuse_change()"
        )
        return
    op.execute(_SQLITE_ERASE_ONLY)
    op.execute(
        "CREATE TRIGGER sealed_values_no_delete BEFORE DELETE ON sealed_values "
        "BEGIN SELECT RAISE(ABORT, 'sealed_values change only by an erasure'); END"
    )


def downgrade() -> None:
    bind = op.get_bind()
    erased = bind.execute(
        sa.text("SELECT count(*) FROM sealed_values WHERE erased_by IS NOT NULL")
    ).scalar_one()
    if erased:
        raise RuntimeError(
            f"{erased} events have had their sealed values erased: a log with erasures "
            "cannot go back to revision 0011, which keeps every value in `events`"
        )
    op.create_table("events_whole", *_events_table("events_whole", split_form=False))
    whole = sa.table(
        "events_whole",
        *(sa.column(name) for name in _ENVELOPE.split(", ")),
        sa.column("data", sa.JSON()),
        sa.column("metadata", sa.JSON()),
        sa.column("salt"),
    )
    text = "::text" if _postgres() else ""
    query = sa.text(
        f"SELECT {', '.join('e.' + n for n in _ENVELOPE.split(', '))}, e.data{text},"
        f" s.data{text}, s.metadata{text}, s.salt"
        " FROM events e JOIN sealed_values s ON s.position = e.position"
        " WHERE e.position > :after ORDER BY e.position LIMIT :limit"
    )
    after = 0
    while True:
        rows = bind.execute(query, {"after": after, "limit": PAGE}).all()
        if not rows:
            break
        moved = [
            {
                **dict(zip(_ENVELOPE.split(", "), row[:10], strict=True)),
                "data": {**_json(row[10]), **_json(row[11])},
                "metadata": _json(row[12]),
                "salt": row[13],
            }
            for row in rows
        ]
        bind.execute(whole.insert(), moved)
        after = rows[-1][0]
    if _postgres():
        op.execute("DROP TABLE sealed_values")  # and its triggers
        op.execute("DROP FUNCTION IF EXISTS docket_sealed_values_erase_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS sealed_values_erase_only")
        op.execute("DROP TRIGGER IF EXISTS sealed_values_no_delete")
        op.execute("DROP TABLE sealed_values")
    _drop_events()
    op.rename_table("events_whole", "events")
    _name_as_events("events_whole")
    _events_triggers()
