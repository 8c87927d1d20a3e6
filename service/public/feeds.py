"""Pure renderers of the public feeds: lists with cursors, Atom, JSON Feed, CSV with HXL.

They take public records (`projections.public.public_request` output) and never a state
view, so nothing confidential can reach them.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from xml.etree import ElementTree as ET

import orjson

from events.errors import DocketError
from projections.public import PUBLIC_STATUSES
from service.public.xmltext import xml_safe

Record = Mapping[str, Any]

ATOM_NS = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
FEED_TITLE = "Docket: humanitarian exemptions of the 1718 Committee"
FEED_ENTRIES = 100
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class BadCursor(DocketError, ValueError):
    """A cursor this service did not hand out."""


# --- lists -----------------------------------------------------------------------------


def _key(record: Record) -> tuple[str, str]:
    return (str(record.get("submitted_at") or ""), str(record.get("request_id") or ""))


def record_year(record: Record) -> int | None:
    submitted = record.get("submitted_at")
    return int(submitted[:4]) if isinstance(submitted, str) and submitted[:4].isdigit() else None


def matches(record: Record, q: str) -> bool:
    """Case-insensitive search over the public text of a record."""
    needle = q.casefold().strip()
    if not needle:
        return True
    applicant = record.get("applicant") or {}
    haystack = [
        record.get("request_id"),
        record.get("title"),
        applicant.get("name"),
        record.get("letter_ref"),
        *(item.get("description") for item in record.get("items") or ()),
    ]
    return any(needle in str(text).casefold() for text in haystack if text)


def filter_records(
    records: Iterable[Record],
    status: str | None = None,
    year: int | None = None,
    q: str | None = None,
) -> list[Record]:
    """Records with that coarse status, submitted that year, matching the search text."""
    return [
        r
        for r in records
        if (not status or r.get("status") == status)
        and (year is None or record_year(r) == year)
        and (not q or matches(r, q))
    ]


def encode_cursor(record: Record) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(_key(record)))).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, orjson.JSONDecodeError, ValueError) as error:
        raise BadCursor("not a cursor of this list") from error
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(part, str) for part in value)
    ):
        raise BadCursor("not a cursor of this list")
    return (value[0], value[1])


def page(
    records: Sequence[Record], cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> tuple[list[Record], str | None]:
    """One page of records (newest submission first) after `cursor`, and the next cursor."""
    ordered = sorted(records, key=_key, reverse=True)
    if cursor:
        after = decode_cursor(cursor)
        ordered = [r for r in ordered if _key(r) < after]
    chosen = ordered[:limit]
    more = len(ordered) > limit
    return chosen, (encode_cursor(chosen[-1]) if more and chosen else None)


def years_of(records: Iterable[Record]) -> list[int]:
    return sorted({y for y in (record_year(r) for r in records) if y is not None}, reverse=True)


# --- feeds -----------------------------------------------------------------------------


def request_url(base_url: str, request_id: str) -> str:
    return f"{base_url.rstrip('/')}/requests/{request_id}"


def entry_title(record: Record) -> str:
    applicant = (record.get("applicant") or {}).get("name") or "Unknown applicant"
    return (
        f"{record.get('request_id')}: {record.get('title')} ({applicant}) — {record.get('status')}"
    )


def entry_text(record: Record) -> str:
    """A plain-text summary of the public facts of a record."""
    lines = [
        f"Organisation: {(record.get('applicant') or {}).get('name')}",
        f"Status: {record.get('status')}",
        f"Submitted: {(record.get('submitted_at') or '')[:10]}",
    ]
    if record.get("approved_at"):
        lines.append(f"Approved: {record['approved_at'][:10]}")
        lines.append(f"Valid: {record.get('valid_from')} to {record.get('valid_until')}")
    if record.get("status") in ("submitted", "pending"):
        lines.append(f"Days pending: {record.get('days_pending')}")
    total = record.get("total_value_usd") or 0
    lines.append(f"Total value: USD {total:,.2f}")
    for item in record.get("items") or ():
        lines.append(
            f"- {item.get('description')}: {item.get('quantity')} {item.get('unit')}, "
            f"USD {item.get('value_usd') or 0:,.2f}"
        )
    shipments = record.get("shipments") or ()
    if shipments:
        lines.append("Shipments: " + ", ".join(str(s.get("shipped_on")) for s in shipments))
    return "\n".join(lines)


def _tag(base_url: str, record: Record) -> str:
    # RFC 4151 tag URI: stable across hosts of the same authority and across renames.
    authority = base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
    year = record_year(record) or 1970
    return f"tag:{authority},{year}:docket/request/{record.get('request_id')}"


def _newest(records: Sequence[Record]) -> Sequence[Record]:
    return sorted(records, key=lambda r: str(r.get("updated") or ""), reverse=True)[:FEED_ENTRIES]


def atom_feed(records: Sequence[Record], base_url: str, updated: str) -> bytes:
    """An RFC 4287 feed of the newest-changed public records."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        # ElementTree escapes markup but not code points XML cannot hold: replace those.
        safe = {key: xml_safe(value) for key, value in attrs.items()}
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{name}", safe)
        if text is not None:
            element.text = xml_safe(text)
        return element

    base = base_url.rstrip("/")
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", f"{base}/public/feed.atom")
    sub(feed, "title", FEED_TITLE)
    sub(feed, "subtitle", "Approved exemptions and publicly disclosed requests")
    sub(feed, "updated", updated)
    sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/public/feed.atom")
    sub(feed, "link", rel="alternate", type="text/html", href=f"{base}/")
    author = sub(feed, "author")
    sub(author, "name", "1718 Committee secretariat (Docket)")
    sub(feed, "generator", "Docket")
    for record in _newest(records):
        entry = sub(feed, "entry")
        sub(entry, "id", _tag(base, record))
        sub(entry, "title", entry_title(record))
        sub(entry, "updated", str(record.get("updated") or updated))
        if record.get("submitted_at"):
            sub(entry, "published", str(record["submitted_at"]))
        sub(
            entry,
            "link",
            rel="alternate",
            type="text/html",
            href=request_url(base, str(record.get("request_id"))),
        )
        sub(entry, "category", term=str(record.get("status")))
        sub(entry, "summary", entry_text(record), type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def json_feed(records: Sequence[Record], base_url: str) -> dict[str, Any]:
    """A JSON Feed 1.1 document of the newest-changed public records."""
    base = base_url.rstrip("/")
    items = []
    for record in _newest(records):
        url = request_url(base, str(record.get("request_id")))
        item: dict[str, Any] = {
            "id": _tag(base, record),
            "url": url,
            "title": entry_title(record),
            "content_text": entry_text(record),
            "tags": [str(record.get("status"))],
            "_docket": {"public_record": f"{base}/public/requests/{record.get('request_id')}"},
        }
        if record.get("submitted_at"):
            item["date_published"] = record["submitted_at"]
        if record.get("updated"):
            item["date_modified"] = record["updated"]
        items.append(item)
    return {
        "version": JSON_FEED_VERSION,
        "title": FEED_TITLE,
        "home_page_url": f"{base}/",
        "feed_url": f"{base}/public/feed.json",
        "description": "Approved exemptions and publicly disclosed requests",
        "language": "en",
        "items": items,
    }


# --- CSV with HXL ------------------------------------------------------------------------

CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("request_id", "#activity+code"),
    ("organisation", "#org+name"),
    ("organisation_kind", "#org+type"),
    ("title", "#activity+name"),
    ("item", "#item+name"),
    ("hs_code", "#item+code"),
    ("quantity", "#item+num"),
    ("unit", "#item+unit"),
    ("value_usd", "#value+usd"),
    ("status", "#status"),
    ("submitted", "#date+submitted"),
    ("approved", "#date+approved"),
    ("valid_from", "#date+start"),
    ("valid_until", "#date+end"),
    ("shipments", "#indicator+num+shipments"),
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    # Spreadsheets run cells that begin like a formula (OWASP "CSV injection").
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def csv_text(records: Sequence[Record]) -> str:
    """One row per item of each public record; header, then the HXL hashtag row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([name for name, _ in CSV_COLUMNS])
    writer.writerow([tag for _, tag in CSV_COLUMNS])
    for record in sorted(records, key=_key, reverse=True):
        applicant = record.get("applicant") or {}
        items = list(record.get("items") or ()) or [{}]
        for item in items:
            writer.writerow(
                [
                    _cell(record.get("request_id")),
                    _cell(applicant.get("name")),
                    _cell(applicant.get("kind")),
                    _cell(record.get("title")),
                    _cell(item.get("description")),
                    _cell(item.get("hs_code")),
                    _cell(item.get("quantity")),
                    _cell(item.get("unit")),
                    _cell(item.get("value_usd")),
                    _cell(record.get("status")),
                    _cell((record.get("submitted_at") or "")[:10] or None),
                    _cell((record.get("approved_at") or "")[:10] or None),
                    _cell(record.get("valid_from")),
                    _cell(record.get("valid_until")),
                    _cell(len(record.get("shipments") or ())),
                ]
            )
    return out.getvalue()


STATUS_CHOICES = PUBLIC_STATUSES
