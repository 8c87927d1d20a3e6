"""Public feeds over HTTP: shapes, structural validation, paging, conditional requests."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import httpx
import orjson
import pytest

from service.public.feeds import JSON_FEED_VERSION
from tests.public.scenario import make_app, scenario

A = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(scenario())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as c:
        yield c


class TestJson:
    async def test_list_pages_with_cursor(self, client: httpx.AsyncClient) -> None:
        first = (await client.get("/public/requests", params={"limit": 2})).json()
        assert [i["request_id"] for i in first["items"]] == ["HX-2026-0001", "HX-2025-0002"]
        second = (
            await client.get(
                "/public/requests", params={"limit": 2, "cursor": first["next_cursor"]}
            )
        ).json()
        third = (
            await client.get(
                "/public/requests", params={"limit": 2, "cursor": second["next_cursor"]}
            )
        ).json()
        ids = [i["request_id"] for p in (first, second, third) for i in p["items"]]
        assert len(ids) == len(set(ids)) == 5
        assert third["next_cursor"] is None
        assert "HX-2025-0003" not in ids

    async def test_filters(self, client: httpx.AsyncClient) -> None:
        got = (await client.get("/public/requests", params={"status": "pending"})).json()
        assert [i["request_id"] for i in got["items"]] == ["HX-2025-0002"]
        got = (await client.get("/public/requests", params={"year": 2024})).json()
        assert [i["request_id"] for i in got["items"]] == ["HX-2024-0007"]
        got = (await client.get("/public/requests", params={"q": "world health"})).json()
        assert [i["request_id"] for i in got["items"]] == ["HX-2025-0001"]

    async def test_bad_input_is_a_problem(self, client: httpx.AsyncClient) -> None:
        for params in ({"cursor": "not-a-cursor"}, {"status": "on_hold"}, {"limit": 0}):
            response = await client.get("/public/requests", params=params)
            assert response.status_code == 422
            assert response.headers["content-type"] == "application/problem+json"

    async def test_one_request_and_404(self, client: httpx.AsyncClient) -> None:
        ok = await client.get("/public/requests/HX-2025-0001")
        assert ok.status_code == 200 and ok.json()["status"] == "active"
        for rid in ("HX-2025-0003", "HX-0000-0000"):
            missing = await client.get(f"/public/requests/{rid}")
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
            assert missing.json()["status"] == 404

    async def test_stats(self, client: httpx.AsyncClient) -> None:
        stats = (await client.get("/public/stats")).json()
        assert {"by_status", "by_status_and_year", "years", "pending_over_days"} <= set(stats)
        assert set(stats["pending_over_days"]) == {"30", "90", "180"}


class TestAtom:
    async def test_rfc4287_structure(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/public/feed.atom")
        assert response.headers["content-type"].startswith("application/atom+xml")
        feed = ET.fromstring(response.content)
        assert feed.tag == f"{A}feed"
        for name in ("id", "title", "updated"):
            assert (feed.findtext(f"{A}{name}") or "").strip(), name
        rels = {link.get("rel"): link.get("href") for link in feed.findall(f"{A}link")}
        assert rels["self"] == "http://docket.test/public/feed.atom"
        assert rels["alternate"] == "http://docket.test/"
        assert feed.find(f"{A}author/{A}name") is not None
        entries = feed.findall(f"{A}entry")
        assert len(entries) == 5
        ids = set()
        for entry in entries:
            entry_id = entry.findtext(f"{A}id") or ""
            assert entry_id.startswith(("tag:", "urn:"))
            ids.add(entry_id)
            assert entry.findtext(f"{A}title")
            updated = entry.findtext(f"{A}updated") or ""
            assert updated.endswith("Z") and "T" in updated
            link = entry.find(f"{A}link")
            assert link is not None and link.get("href", "").startswith("http://docket.test/")
            assert entry.findtext(f"{A}summary") or entry.findtext(f"{A}content")
        assert len(ids) == 5


class TestJsonFeed:
    async def test_required_keys(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/public/feed.json")
        assert response.headers["content-type"].startswith("application/feed+json")
        feed = orjson.loads(response.content)
        assert feed["version"] == JSON_FEED_VERSION
        assert feed["title"]
        assert feed["home_page_url"] == "http://docket.test/"
        assert feed["feed_url"] == "http://docket.test/public/feed.json"
        assert len(feed["items"]) == 5
        for item in feed["items"]:
            assert item["id"] and isinstance(item["id"], str)
            assert item["url"].startswith("http://docket.test/requests/")
            assert item["title"] and item["content_text"]
            assert item["date_published"].endswith("Z")
            assert item["date_modified"].endswith("Z")


class TestCsv:
    async def test_header_and_hxl_row(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/public/requests.csv")
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        header, hxl, data = rows[0], rows[1], rows[2:]
        assert header[0] == "request_id" and len(header) == len(hxl)
        assert all(tag.startswith("#") for tag in hxl)
        for tag in (
            "#org+name",
            "#item+name",
            "#value+usd",
            "#date+approved",
            "#date+start",
            "#date+end",
            "#status",
        ):
            assert tag in hxl
        assert len(data) == 10  # five public requests, two items each
        approved = [r for r in data if r[0] == "HX-2025-0001"]
        assert approved[0][hxl.index("#date+approved")] == "2025-03-27"


class TestConditional:
    @pytest.mark.parametrize(
        "path",
        [
            "/public/requests",
            "/public/requests/HX-2025-0001",
            "/public/stats",
            "/public/feed.atom",
            "/public/feed.json",
            "/public/requests.csv",
            "/",
            "/requests/HX-2025-0001",
            "/stats",
        ],
    )
    async def test_304(self, client: httpx.AsyncClient, path: str) -> None:
        first = await client.get(path)
        assert first.status_code == 200
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        weak = await client.get(path, headers={"If-None-Match": f'"x", W/{etag}'})
        assert weak.status_code == 304
        since = await client.get(path, headers={"If-Modified-Since": modified})
        # aggregates show no dates of their own: only their ETag validates them
        assert since.status_code == (200 if "stats" in path else 304)
        stale = await client.get(path, headers={"If-None-Match": '"p1-0"'})
        assert stale.status_code == 200

    async def test_validators_follow_the_body_only(self) -> None:
        views = scenario()

        async def validators(path: str, modified: datetime) -> tuple[str, str]:
            app = make_app(views)
            app.state.public_source.modified = modified  # the log's last event: ignored
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                response = await c.get(path)
                return response.headers["etag"], response.headers["last-modified"]

        early, late = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 28, 23, tzinfo=UTC)
        assert await validators("/public/requests", early) == await validators(
            "/public/requests", late
        )
        assert (await validators("/public/requests", early))[0] != (
            await validators("/public/requests?year=2025", early)
        )[0]
        # two queries with one body (both empty) share the ETag: it is the body's
        assert (await validators("/public/requests?year=2001", early))[0] == (
            await validators("/public/requests?q=zzzz", early)
        )[0]

    async def test_if_modified_since_older_gets_200(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/public/requests", headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}
        )
        assert response.status_code == 200
