"""The append-only event store: `EventStore` over a `Backend` (PostgreSQL or SQLite).

```
store.py      EventStore: the only way in; no dialect
writer.py     the group-commit queue, and the pure validation and hashing of a batch
contract.py   Backend: what each dialect provides; the values it exchanges with the writer
rows.py       raw rows and their conversion to RecordedEvent
core.py       the cold reads both dialects answer alike, and a read side's applied position
postgres.py   everything asyncpg      sqlite.py   everything aiosqlite
  (postgres_writer.py: the appends and the import's COPY; postgres_sql.py,
  postgres_errors.py, postgres_tables.py, sqlite_tables.py: their helper modules)
locks.py      session locks (the projection worker's)
backends.py   the backend of a URL; which errors mean "unavailable"
```
"""

from events.errors import DuplicateEvents, StoreClosed
from events.store.backends import database_unavailable
from events.store.contract import TableWriter
from events.store.rows import RawRow, row_event
from events.store.store import EventStore
from events.store.writer import StoreStats

__all__ = [
    "DuplicateEvents",
    "EventStore",
    "RawRow",
    "StoreClosed",
    "StoreStats",
    "TableWriter",
    "database_unavailable",
    "row_event",
]
