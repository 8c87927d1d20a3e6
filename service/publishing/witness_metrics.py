"""`/metrics` for witnessing: per witness, the last cosigned size and the last error.

`record_witness_status(publisher.status())` after each submission round keeps the gauges
current. The last error is an `Info` (one series per witness, replaced each time), so a
changing message does not grow the number of series.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, Info

from events.witnessing import WitnessStatus

__all__ = ["WitnessMetrics", "record_witness_status"]


class WitnessMetrics:
    """The witness gauges, registered once in `registry`."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.cosigned_size = Gauge(
            "docket_witness_last_cosigned_size",
            "Tree size the witness last cosigned (-1: none known)",
            ["witness"],
            registry=registry,
        )
        self.cosigned_at = Gauge(
            "docket_witness_last_cosigned_timestamp_seconds",
            "When the witness last cosigned (0: never)",
            ["witness"],
            registry=registry,
        )
        self.failing = Gauge(
            "docket_witness_failing",
            "1 if the last submission to the witness failed",
            ["witness"],
            registry=registry,
        )
        self.last_error = Info(
            "docket_witness_last_error",
            "The last submission error of the witness",
            ["witness"],
            registry=registry,
        )

    def record(self, statuses: Sequence[WitnessStatus]) -> None:
        """Set every gauge from the publisher's `status()`."""
        for status in statuses:
            name = status.name
            size = status.last_cosigned_size
            self.cosigned_size.labels(name).set(-1 if size is None else size)
            self.cosigned_at.labels(name).set(status.last_cosigned_at or 0)
            self.failing.labels(name).set(1 if status.last_error else 0)
            self.last_error.labels(name).info(
                {
                    "url": status.url,
                    "error": (status.last_error or "")[:200],
                    "at": f"{status.last_error_at or 0:.0f}",
                }
            )


_default: WitnessMetrics | None = None


def record_witness_status(statuses: Sequence[WitnessStatus]) -> None:
    """Record into the process's default registry (created on first use)."""
    global _default
    if _default is None:
        _default = WitnessMetrics()
    _default.record(statuses)
