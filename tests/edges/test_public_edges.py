"""Edges of the public outputs a real deployment meets: a forged Host header, browsers'
security headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.platform.settings import Settings
from tests.api.conftest import Api, make_request, open_api

PUBLIC_URL = "https://docket.committee.example"


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    async for opened in open_api(database_url, tmp_path, public_url=PUBLIC_URL + "/"):
        yield opened


async def test_feed_links_come_from_the_public_url_never_the_host_header(api: Api) -> None:
    await make_request(api, "submitted", disclosure="public")
    await api.get("/v1/requests", params={"limit": 1})  # projections caught up
    for path in ("/public/feed.atom", "/public/feed.json"):
        response = await api.get(path, None, headers={"Host": "evil.example"})
        assert response.status_code == 200, response.text
        assert "evil.example" not in response.text
        assert f"{PUBLIC_URL}/requests/" in response.text
        assert "tag:docket.committee.example," in response.text


def test_production_requires_the_public_url(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"")
    key.chmod(0o600)
    with pytest.raises(ValidationError, match="DOCKET_PUBLIC_URL"):
        Settings(
            environment="production",
            database_url="postgresql+asyncpg://docket@db/docket",
            signing_key_file=key,
            log_origin="docket.committee.example/log",
        )
    with pytest.raises(ValidationError, match="DOCKET_PUBLIC_URL"):
        Settings(public_url="evil.example/path?x=1")


@pytest.mark.parametrize("path", ["/", "/stats", "/requests/HX-2099-0001"])
async def test_html_pages_carry_security_headers(api: Api, path: str) -> None:
    response = await api.get(path, None)
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_every_answer_is_nosniff(api: Api) -> None:
    for path in ("/public/requests", "/healthz", "/public/requests.csv"):
        response = await api.get(path, None)
        assert response.headers["x-content-type-options"] == "nosniff", path
