"""The redaction policy (`projections.public`) on plain state views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from projections.public import (
    applicant_request,
    coarse_status,
    public_request,
    public_statistics,
)
from tests.public.scenario import NOW, scenario


def _by_id() -> dict[str, dict]:  # type: ignore[type-arg]
    return {v["request_id"]: v for v in scenario()}


class TestPublicRequest:
    def test_confidential_pending_request_is_not_public(self) -> None:
        assert public_request(_by_id()["HX-2025-0003"], NOW) is None

    def test_public_pending_request_has_coarse_status_and_days(self) -> None:
        record = public_request(_by_id()["HX-2025-0002"], NOW)
        assert record is not None
        assert record["status"] == "pending"
        # counted up to the end of the last complete day, not to `now`
        yesterday_end = datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)
        assert record["days_pending"] == (yesterday_end - datetime(2025, 7, 1, 9, tzinfo=UTC)).days
        assert record["applicant"] == {"name": "Welthungerhilfe", "kind": "ngo"}
        assert "valid_from" not in record and "approved_at" not in record

    def test_days_pending_move_at_midnight_utc_only(self) -> None:
        view = _by_id()["HX-2025-0002"]  # submitted 2025-07-01T09:00Z, still pending
        day = datetime(2026, 3, 1, tzinfo=UTC)

        def days(now: datetime) -> int:
            record = public_request(view, now)
            assert record is not None
            return int(record["days_pending"])

        # through the whole day, across the submission's own hour of the day
        seconds = (0, 1, 9 * 3600 - 1, 9 * 3600, 9 * 3600 + 1, 86_399)
        assert {days(day + timedelta(seconds=s)) for s in seconds} == {days(day)}
        assert days(day + timedelta(days=1)) == days(day) + 1

    def test_submitted_refused(self) -> None:
        views = _by_id()
        assert coarse_status(views["HX-2026-0001"], NOW) == "submitted"
        assert coarse_status(views["HX-2025-0004"], NOW) == "refused"

    def test_approved_confidential_request_shows_the_letter(self) -> None:
        record = public_request(_by_id()["HX-2025-0001"], NOW)
        assert record is not None
        assert record["status"] == "active"
        assert record["approved_at"] == "2025-03-27T14:00:00Z"
        assert (record["valid_from"], record["valid_until"]) == ("2025-04-01", "2026-06-30")
        assert record["letter_ref"] == "S/AC.49/2025/OC.12"
        assert [s["shipped_on"] for s in record["shipments"]] == ["2025-05-10", "2025-10-20"]
        assert record["extensions"][0]["valid_until"] == "2026-06-30"
        assert record["total_value_usd"] == 28500.5

    def test_active_and_expired_follow_the_clock(self) -> None:
        view = _by_id()["HX-2025-0001"]
        assert coarse_status(view, datetime(2026, 7, 1, tzinfo=UTC)) == "expired"
        assert coarse_status(view, datetime(2025, 3, 28, tzinfo=UTC)) == "approved"
        assert coarse_status(_by_id()["HX-2024-0007"], NOW) == "expired"

    def test_only_named_fields_leave(self) -> None:
        view = dict(_by_id()["HX-2025-0001"])
        view["surprise_field"] = "SECRET-new"
        view["applicant"] = {**view["applicant"], "contact": "SECRET-contact"}
        record = public_request(view, NOW)
        assert "SECRET" not in repr(record)
        assert set(record or {}) <= {
            "request_id",
            "status",
            "applicant",
            "title",
            "items",
            "total_value_usd",
            "submitted_at",
            "circulated_at",
            "decided_at",
            "days_pending",
            "approved_at",
            "valid_from",
            "valid_until",
            "letter_ref",
            "extensions",
            "amendments",
            "shipments",
            "updated",
        }


class TestApplicantRequest:
    def test_on_hold_without_members(self) -> None:
        record = applicant_request(_by_id()["HX-2025-0002"])
        assert record["status"] == "on_hold"
        assert record["on_hold"] is True
        assert record["active_hold_count"] == 1
        # that it is on hold, not since when (SPEC §7): the hold is hidden from it
        assert "active_holds" not in record and "2025-07-04" not in repr(record)
        assert record["information_pending"] is True
        assert record["information_requests"][0]["questions"] == "SECRET-question-2"
        assert "requested_by" not in record["information_requests"][0]
        assert "ZAF" not in repr(record)
        assert "SECRET-reason" not in repr(record)

    def test_answers_visible_no_reviews_no_notes(self) -> None:
        record = applicant_request(_by_id()["HX-2025-0001"])
        text = repr(record)
        assert "SECRET-response-1" in text
        for secret in (
            "BRA",
            "ZAF",
            "SECRET-note",
            "SECRET-step",
            "SECRET-review",
            "SECRET-reason",
            "SECRET-ext-reason",
            "SECRET-ship",
            "SECRET-justification",
        ):
            assert secret not in text, secret


class TestStatistics:
    def test_counts_and_thresholds(self) -> None:
        stats = public_statistics(scenario(), NOW)
        assert stats["total"] == 6
        assert stats["by_status"]["pending"] == 2
        assert stats["by_status"]["expired"] == 1
        assert stats["pending_over_days"] == {"30": 2, "90": 2, "180": 1}
        assert stats["pending_over_time"][-1] == {"date": "2026-03-01", "pending": 3}
        assert "SECRET" not in repr(stats) and "HX-" not in repr(stats)
