"""Prometheus metrics: requests, latency, appends, projection lag."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("docket_http_requests_total", "HTTP requests", ["method", "path", "status"])
REQUEST_LATENCY = Histogram(
    "docket_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
APPENDS = Counter("docket_events_appended_total", "Events appended to the log")
LOG_HEAD = Gauge("docket_log_head_position", "Last position in the log")
PROJECTION_LAG = Gauge("docket_projection_lag_events", "Events not yet projected", ["projection"])
