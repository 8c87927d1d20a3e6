"""The app served on 127.0.0.1 (real uvicorn) on a fresh database of each backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.platform.db import create_engine
from service.platform.settings import Settings
from service.platform.tokens import create_token
from tests.api.conftest import OTHER_ORG, WHO
from tests.api.conftest import api as api  # the in-process app fixture, here too
from tests.conftest import run_async
from tests.serving import serve


async def make_tokens(database_url: str) -> dict[str, str]:
    engine = create_engine(database_url)
    try:
        return {
            "secretariat": await create_token(engine, "secretariat", "sec", None),
            "auditor": await create_token(engine, "auditor", "aud", None),
            "applicant": await create_token(engine, "applicant", "who", WHO),
            "other": await create_token(engine, "applicant", "mdm", OTHER_ORG),
        }
    finally:
        await engine.dispose()


@dataclass
class Served:
    base: str
    tokens: dict[str, str]
    database_url: str
    settings: Settings

    def client(self, role: str | None = "secretariat") -> httpx.Client:
        headers = {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


@pytest.fixture
def served_with(database_url: str, tmp_path: Path) -> Callable[..., Any]:
    """`with served_with(**settings) as served:` the app on a URL, a token per role."""

    def make(**changes: Any) -> Any:
        settings = Settings(
            database_url=database_url,
            environment="test",
            signing_key_file=tmp_path / "key",
            **changes,
        )
        return _serving(settings, database_url)

    return make


def _serving(settings: Settings, database_url: str) -> Any:
    from contextlib import contextmanager

    @contextmanager
    def run() -> Iterator[Served]:
        tokens = run_async(lambda: make_tokens(database_url))
        with serve(create_app(settings)) as base:
            yield Served(base, tokens, database_url, settings)

    return run()


@pytest.fixture
def served(served_with: Callable[..., Any]) -> Iterator[Served]:
    with served_with() as running:
        yield running
