"""Engine set-up shared by every layer (moved down from `service.db`)."""

from __future__ import annotations

from typing import Any

#: Execution options of a connection whose transactions take SQLite's write lock at BEGIN.
WRITER_OPTIONS: dict[str, Any] = {"docket_begin": "IMMEDIATE"}
