"""The parts a public record and an applicant's view share (SPEC §7), each built from
named safe fields: the applicant's name and kind, the items and their total, the granted
extensions, the approved amendments and the shipments. Never a member, a note or a
reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from projections.view_values import (
    View,
    as_dicts,
    as_number,
    as_text,
    date_text,
    procedures_starting,
    time_text,
)

__all__ = [
    "applicant_of",
    "approved_amendments",
    "granted_extensions",
    "items_of",
    "shipments_of",
    "total_value",
]

_APPLICANT_KINDS = frozenset({"ngo", "un_agency", "international_org", "member_state", "red_cross"})


def applicant_of(view: View) -> dict[str, Any]:
    """The applicant's name and kind (one of the known kinds), nothing else."""
    applicant = view.get("applicant")
    applicant = applicant if isinstance(applicant, Mapping) else {}
    kind = applicant.get("kind")
    return {
        "name": as_text(applicant.get("name")),
        "kind": kind if kind in _APPLICANT_KINDS else None,
    }


def items_of(value: Any) -> list[dict[str, Any]]:
    """Each item's description, HS code, quantity, unit and value."""
    return [
        {
            "description": as_text(item.get("description")),
            "hs_code": as_text(item.get("hs_code")),
            "quantity": as_number(item.get("quantity")),
            "unit": as_text(item.get("unit")),
            "value_usd": as_number(item.get("value_usd")),
        }
        for item in as_dicts(value)
    ]


def total_value(items: list[dict[str, Any]]) -> int | float:
    """The sum of the items' values in USD (an unknown value counts 0)."""
    return sum(item["value_usd"] or 0 for item in items)


def granted_extensions(view: View) -> list[dict[str, Any]]:
    """Each granted extension: its procedure, when, and until when."""
    out = []
    for procedure in procedures_starting(view, "extension-"):
        if procedure.get("outcome") not in ("approved", "granted"):
            continue
        out.append(
            {
                "procedure": as_text(procedure.get("name")),
                "granted_at": time_text(procedure.get("decided_at")),
                "valid_until": date_text(
                    procedure.get("granted_until") or procedure.get("valid_until")
                ),
            }
        )
    # A state view may keep extensions in their own list; take the same safe fields.
    if not out:
        for ext in as_dicts(view.get("extensions")):
            if ext.get("outcome") not in ("approved", "granted"):
                continue
            out.append(
                {
                    "procedure": as_text(ext.get("procedure") or ext.get("name")),
                    "granted_at": time_text(ext.get("decided_at") or ext.get("granted_at")),
                    "valid_until": date_text(ext.get("granted_until") or ext.get("valid_until")),
                }
            )
    return out


def approved_amendments(view: View) -> list[dict[str, Any]]:
    """Each approved amendment: its procedure, when, and its items."""
    out = []
    sources = as_dicts(view.get("amendments")) or procedures_starting(view, "amendment-")
    for amendment in sources:
        if amendment.get("outcome") != "approved":
            continue
        out.append(
            {
                "procedure": as_text(amendment.get("procedure") or amendment.get("name")),
                "approved_at": time_text(
                    amendment.get("decided_at") or amendment.get("approved_at")
                ),
                "items": items_of(amendment.get("items")),
            }
        )
    return out


def shipments_of(view: View) -> list[dict[str, Any]]:
    """Each shipment's number and date."""
    return [
        {
            "shipment_no": as_number(shipment.get("shipment_no")),
            "shipped_on": date_text(shipment.get("shipped_on")),
        }
        for shipment in as_dicts(view.get("shipments"))
    ]
