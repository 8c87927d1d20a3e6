"""Real clients of the public outputs: libhxl (the HXL standard's library) reads the CSV
from its URL; a feed reader (feedparser) and an XML parser read the Atom feed whatever
code points a title holds."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import feedparser
import httpx
import hxl

from tests.api.conftest import submission
from tests.edges.conftest import Served
from tests.public.scenario import make_app, scenario


def test_libhxl_reads_the_csv_from_its_url(served: Served) -> None:
    # libhxl recognised `text/csv; charset=utf-8; header=present` as no known type
    # ("Cannot process as data"): it takes only `text/csv` with at most a charset.
    body = submission(disclosure="public", title="Cold chain for vaccines", request_id="HXL-1")
    with served.client() as client:
        assert client.post("/v1/requests", json=body).status_code == 201
        client.get("/v1/requests", params={"limit": 1})  # read-your-writes: caught up
    data = hxl.data(f"{served.base}/public/requests.csv")
    tags = [column.display_tag for column in data.columns]
    assert "#activity+code" in tags and "#org+name" in tags
    rows = list(data)
    assert [row.get("#activity+code") for row in rows] == ["HXL-1"]
    assert rows[0].get("#activity+name") == "Cold chain for vaccines"


async def test_atom_stays_well_formed_with_xml_invalid_code_points() -> None:
    states = scenario()
    for state in states:
        state["title"] = "Cold chain \uffff\ufffe for\x0b vaccines"
    app = make_app(states)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docket.test") as client:
        response = await client.get("/public/feed.atom")
    assert response.status_code == 200
    ET.fromstring(response.content)  # an XML parser: raises on an ill-formed document
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.entries
    assert all("Cold chain \ufffd\ufffd for\ufffd vaccines" in e.title for e in feed.entries)
