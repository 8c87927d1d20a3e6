"""The log's tables as SQLAlchemy Core, the same on PostgreSQL and SQLite.

Alembic (`migrations/`) creates them; this module is what the code reads and writes with.
Times are timezone-aware UTC: `timestamptz` on PostgreSQL, and on SQLite the canonical text
`2026-02-05T15:04:05.123456Z`, which round-trips exactly and sorts in time order.
Hashes are lowercase hex text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from events.model import parse_utc, utc_text

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcTime(TypeDecorator[datetime]):
    """An aware UTC time: `timestamptz`, or canonical UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(27))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return utc_text(value)
        if value.tzinfo is None:
            raise ValueError("times in the log must be timezone-aware")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return parse_utc(value)
        moment: datetime = value
        return moment.astimezone(UTC)


#: BIGINT, except on SQLite where only INTEGER PRIMARY KEY is the (64-bit) rowid.
Position = BigInteger().with_variant(Integer(), "sqlite")

#: The log, append-only (triggers): each event's envelope, the CLEAR fields of its `data`
#: (SPEC §7.1) and its kept `sealed` digest (SPEC §4), what its leaf commits to.
events = Table(
    "events",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=False),
    Column("event_id", String(36), nullable=False),
    Column("stream_id", Text, nullable=False),
    Column("stream_version", BigInteger, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Column("occurred_at", UtcTime, nullable=False),
    Column("recorded_at", UtcTime, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("sealed", String(64), nullable=False),
    UniqueConstraint("stream_id", "stream_version"),
    Index(None, "event_id", unique=True),
)

#: What erasure may destroy (SPEC §4 "Erasure"), one row per event, written with it: the
#: SEALED fields of its `data`, its `metadata` and its `salt`. Triggers refuse DELETE,
#: and UPDATE but the one an `ErasureRecorded` event in the log covers (migration 0012):
#: `salt` NULL, every value replaced by `{"erased": true, "by": P}`, `erased_by` P.
sealed_values = Table(
    "sealed_values",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=False),
    Column("data", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("salt", String(64), nullable=True),
    Column("erased_by", Position, nullable=True),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", UtcTime, nullable=False),
)

#: The witnesses' `cosignature/v1` lines (C2SP tlog-cosignature) of each signed checkpoint,
#: append-only like `checkpoints` (migration 0007). `key_id` is the witness key id in hex.
cosignatures = Table(
    "cosignatures",
    metadata,
    Column("tree_size", BigInteger, nullable=False, autoincrement=False),
    Column("witness", Text, nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("line", Text, nullable=False),
    Column("received_at", UtcTime, nullable=False),
    PrimaryKeyConstraint("tree_size", "witness", "key_id"),
    Index(None, "witness", "tree_size"),
)

merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("level", Integer, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    PrimaryKeyConstraint("level", "idx"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Text, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("org", Text, nullable=True),
    Column("name", Text, nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("revoked_at", UtcTime, nullable=True),
)


class _IntegersText(TypeDecorator[list[int]]):
    """The result of `IntegerList`: a list (PostgreSQL's array) or comma-separated text
    (SQLite's `group_concat`), as a list of ints."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> list[int] | None:
        if value is None:
            return None
        if isinstance(value, str):
            return [int(part) for part in value.split(",")]
        return [int(part) for part in value]


class IntegerList(FunctionElement[list[int]]):
    """The integers of a group as one list, in no order: `array_agg` on PostgreSQL,
    `group_concat` on SQLite (one row per group: thousands of rows cost more to make
    than to read)."""

    type = _IntegersText()
    inherit_cache = True


@compiles(IntegerList)
def _integer_list(element: IntegerList, compiler: Any, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)})"


@compiles(IntegerList, "postgresql")
def _integer_list_postgresql(element: IntegerList, compiler: Any, **kw: Any) -> str:
    return f"array_agg({compiler.process(element.clauses, **kw)})"
