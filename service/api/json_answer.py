"""JSON answers serialised with orjson: what FastAPI's deprecated `ORJSONResponse` did.

Endpoints that set headers or a status of their own return a `JsonAnswer`; the others
return plain values and let FastAPI serialise them from their return type."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JsonAnswer(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
