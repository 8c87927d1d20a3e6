"""Per-witness metrics: the last cosigned size and the last error."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from events.witnessing import WitnessStatus
from service.publishing.witness_metrics import WitnessMetrics


def test_each_witness_has_its_size_and_last_error() -> None:
    registry = CollectorRegistry()
    metrics = WitnessMetrics(registry)
    metrics.record(
        [
            WitnessStatus("w1.example/w", "http://w1", last_cosigned_size=42, last_cosigned_at=5.0),
            WitnessStatus(
                "w2.example/w", "http://w2", last_error="ConnectError: refused", last_error_at=9.0
            ),
        ]
    )
    text = generate_latest(registry).decode()
    assert 'docket_witness_last_cosigned_size{witness="w1.example/w"} 42.0' in text
    assert 'docket_witness_last_cosigned_size{witness="w2.example/w"} -1.0' in text
    assert 'docket_witness_failing{witness="w2.example/w"} 1.0' in text
    assert 'error="ConnectError: refused"' in text
    metrics.record([WitnessStatus("w2.example/w", "http://w2", last_cosigned_size=50)])
    text = generate_latest(registry).decode()
    assert 'docket_witness_failing{witness="w2.example/w"} 0.0' in text
    assert text.count("docket_witness_last_error_info{") == 2
