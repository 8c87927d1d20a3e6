"""A receipt's check in words, for a bank clerk (SPEC §6.2): what is proven, under which
checkpoint, what is not yet verified; or what failed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from events.receipt.check import ReceiptCheck

__all__ = ["checkpoint_line", "summary"]


def _what(event: Mapping[str, Any]) -> str:
    """An event in the words of a letter's reader."""
    found = event.get("data")
    data: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    kind = event.get("event_type")
    if kind == "ExemptionApproved":
        return (
            f"the approval (letter {data.get('letter_ref')}, valid {data.get('valid_from')} "
            f"to {data.get('valid_until')})"
        )
    if kind == "ExtensionGranted":
        return f"the extension of validity to {data.get('valid_until')}"
    if kind == "AmendmentApproved":
        return "the approved amendment of the items"
    if kind == "ShipmentRecorded":
        return f"shipment {data.get('shipment_no')} of {data.get('shipped_on')}"
    if kind == "RequestSubmitted":
        who = data.get("applicant")
        applicant: Mapping[str, Any] = who if isinstance(who, Mapping) else {}
        return f"the request \u201c{data.get('title')}\u201d of {applicant.get('name')}"
    return _WORDS.get(str(kind), f"a {kind} entry")


_WORDS = {
    "RequestCirculated": "its circulation to the committee",
    "ExtensionRequested": "a request to extend the validity",
    "AmendmentRequested": "a request to amend the items",
    "ExemptionRefused": "a refusal",
    "ExtensionRefused": "a refused extension",
    "AmendmentRefused": "a refused amendment",
    "RequestWithdrawn": "its withdrawal",
    "EntryAnnotated": "an annotation of an earlier entry",
    "EventRetracted": "the retraction of an earlier entry",
}


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment.strftime('%b %Y')}"


def checkpoint_line(check: ReceiptCheck) -> str:
    """The checkpoint's tree size and the newest witness's time, always said (SPEC §6.2):
    an old receipt is seen to be old, even one no witness cosigned."""
    if check.checkpoint is None:
        return "Checkpoint: none readable."
    when = check.cosigned_at
    at = when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "no witness time"
    return (
        f"Checkpoint: log {check.checkpoint.origin}, tree size {check.checkpoint.size:,}; "
        f"newest witness cosignature: {at}."
    )


def summary(check: ReceiptCheck) -> str:
    """The outcome for a bank clerk: what is proven, under which checkpoint, what is not
    yet verified; or what failed. Its first word is VERIFIED, NOT YET VERIFIED (some
    events pending) or NOT VERIFIED."""
    if not check.ok:
        lines = [f"NOT VERIFIED: the receipt of {check.request_id or 'an unknown request'} failed"]
        lines += [f"  - {failure.text()}" for failure in check.failures]
        lines.append(checkpoint_line(check))
        return "\n".join(lines)
    assert check.checkpoint is not None
    main = next(
        (e for e in reversed(check.events) if e.get("event_type") == "ExemptionApproved"),
        check.events[-1] if check.events else None,
    )
    when = check.cosigned_at
    under = f"checkpoint of {_day(when)}" if when else "checkpoint"
    under += f" (log {check.checkpoint.origin}, {check.checkpoint.size:,} entries)"
    if check.witnesses:
        under += f" cosigned by {len(check.cosigned)} of {check.witnesses} witnesses"
        under += f" ({check.quorum} required)"
    else:
        under += ", signed by the committee's log key (no witness asked for)"
    lines = []
    if check.pending:
        lines.append(
            f"NOT YET VERIFIED: {len(check.pending)} event(s) of request {check.request_id} "
            "shown in this receipt are not proved; what follows as proven is, the rest is not."
        )
    if main is None:
        lines.append(f"VERIFIED: request {check.request_id}: no event proven yet; {under}.")
    else:
        lines.append(
            f"VERIFIED: {_what(main)} of request {check.request_id} is in the committee's "
            f"signed log at position {main.get('position')}; {under}."
        )
    others = [e for e in check.events if e is not main]
    if others:
        lines.append("Also proven in the same log:")
        lines += [f"  - position {e.get('position')}: {_what(e)}" for e in others]
    lines.append(
        f"The log's signed statement says these {len(check.events)} are all the request's "
        f"public events up to its entry {check.checkpoint.size:,}."
    )
    if check.pending:
        lines.append(
            "NOT YET VERIFIED (no published checkpoint covers them; anyone could have added "
            "them to the file; fetch the receipt again later to have them proven):"
        )
        lines += [f"  - position {e.get('position')}: {_what(e)}" for e in check.pending]
    lines.append(checkpoint_line(check))
    return "\n".join(lines)
