"""The auditor's report as bytes: JSON (RFC 8785 canonical), CSV (RFC 4180) and a printable
HTML page with the charts of `/stats` (pure).

Every renderer is a function of the report alone — no clock, no host, no path — so the
report made on the server and the one recomputed offline from an export are the same
bytes in every format.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from events.canonical import canonical
from projections.report import Report
from service.public import svg

FORMATS = ("html", "csv", "json")

#: Names a reproduction uses for its inputs (the page shows how to obtain each).
BUNDLE_FILE = "docket-export.jsonl"
CHECKPOINT_FILE = "checkpoint.txt"
KEY_FILE = "log-key.txt"


def reproduce_command(report: Report, fmt: str) -> str:
    """The exact command that recomputes this report offline from an export."""
    return (
        f"docket report --bundle {BUNDLE_FILE} --checkpoint {CHECKPOINT_FILE} "
        f"--key {KEY_FILE} --as-of {report.document()['as_of']} "
        f"--at-position {report.at_position} --format {fmt}"
    )


def render_json(report: Report) -> bytes:
    """The report's document in canonical JSON (keys sorted), one line."""
    return canonical(report.document()) + b"\n"


def _cell(value: Any) -> Any:
    return "" if value is None else value


def render_csv(report: Report) -> bytes:
    """One block per table, each headed by its name; a blank line between blocks."""
    doc = report.document()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    checkpoint = doc["checkpoint"]
    writer.writerow(["report", "as_of", "at_position", "origin", "size", "root", "requests"])
    writer.writerow(
        [
            doc["report"],
            doc["as_of"],
            doc["at_position"],
            checkpoint["origin"],
            checkpoint["size"],
            checkpoint["root"],
            doc["requests"],
        ]
    )
    tables: list[tuple[str, list[str], list[dict[str, Any]]]] = [
        (
            "years",
            [
                "year",
                "requests",
                "approvals",
                "refusals",
                "withdrawals",
                "median_days_to_decision",
                "mean_days_to_decision",
            ],
            doc["years"],
        ),
        (
            "pending_over_days",
            ["days", "requests"],
            [{"days": k, "requests": v} for k, v in doc["pending_over_days"].items()],
        ),
        (
            "members",
            ["member", "holds_placed", "active_holds", "total_hold_days", "median_hold_days"],
            doc["members"],
        ),
        (
            "longest_holds",
            ["request_id", "member", "procedure", "placed_at", "ended_at", "end", "days"],
            doc["longest_holds"],
        ),
    ]
    for name, columns, rows in tables:
        writer.writerow([])
        writer.writerow([name, *columns])
        for row in rows:
            writer.writerow(["", *(_cell(row[column]) for column in columns)])
    return out.getvalue().encode()


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Committee figures as of {{ doc.as_of }}</title>
<style>
body { font-family: system-ui, sans-serif; color: #1b1f24; max-width: 60rem; margin: 2rem auto;
  padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; break-after: avoid; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; break-inside: avoid; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border-bottom: 1px solid #d5dae0; padding: .3rem .5rem; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; break-inside: avoid; } svg.chart { width: 100%; height: auto; }
code, pre { font-family: ui-monospace, monospace; font-size: .9rem; }
pre { background: #f4f6f8; padding: .7rem; overflow-x: auto; white-space: pre-wrap; }
.stamp { border: 1px solid #4a5560; padding: .7rem 1rem; }
.stamp dt { font-weight: 600; } .stamp dd { margin: 0 0 .4rem; word-break: break-all; }
.confidential { color: #b35c00; font-weight: 600; }
@media print { body { margin: 0; max-width: none; } pre { white-space: pre-wrap; } }
</style>
</head>
<body>
<h1>Committee figures as of {{ doc.as_of }}</h1>
<p class="confidential">For auditors: this report names the members that placed holds,
which is never public.</p>
<p>What the committee's log showed at position {{ doc.at_position }} about business time
{{ doc.as_of }}: {{ doc.requests }} requests had been submitted by then.</p>

<section aria-labelledby="h-stamp">
<h2 id="h-stamp">Computed from this signed checkpoint</h2>
<dl class="stamp">
<dt>Origin</dt><dd><code>{{ doc.checkpoint.origin }}</code></dd>
<dt>Tree size</dt><dd>{{ doc.checkpoint.size }} events</dd>
<dt>Root (hex)</dt><dd><code>{{ doc.checkpoint.root }}</code></dd>
<dt>Events read</dt><dd>positions 1 to {{ doc.at_position }}, less the entries retracted up
to there, those that occurred by {{ doc.as_of }}</dd>
</dl>
</section>

<section aria-labelledby="h-years">
<h2 id="h-years">Requests and decisions by year</h2>
<figure>{{ requests_chart }}</figure>
<figure>{{ days_chart }}</figure>
<table>
<caption>Requests in the year submitted; decisions and withdrawals in the year taken</caption>
<thead><tr><th scope="col">Year</th><th scope="col" class="num">Requests</th>
<th scope="col" class="num">Approvals</th><th scope="col" class="num">Refusals</th>
<th scope="col" class="num">Withdrawals</th><th scope="col" class="num">Median days to decision</th>
<th scope="col" class="num">Mean days to decision</th></tr></thead>
<tbody>
{% for y in doc.years %}
<tr><th scope="row">{{ y.year }}</th><td class="num">{{ y.requests }}</td>
<td class="num">{{ y.approvals }}</td><td class="num">{{ y.refusals }}</td>
<td class="num">{{ y.withdrawals }}</td><td class="num">{{ dash(y.median_days_to_decision) }}</td>
<td class="num">{{ dash(y.mean_days_to_decision) }}</td></tr>
{% else %}
<tr><td colspan="7">No requests by then.</td></tr>
{% endfor %}
</tbody>
</table>
</section>

<section aria-labelledby="h-pending">
<h2 id="h-pending">Waiting for a decision</h2>
<figure>{{ pending_chart }}</figure>
<table>
<caption>Requests still waiting for their initial decision, by days waited</caption>
<thead><tr><th scope="col">Waiting over</th><th scope="col" class="num">Requests</th></tr></thead>
<tbody>
{% for days, count in doc.pending_over_days.items() %}
<tr><th scope="row">{{ days }} days</th><td class="num">{{ count }}</td></tr>
{% endfor %}
</tbody>
</table>
</section>

<section aria-labelledby="h-members">
<h2 id="h-members">Holds by member</h2>
<figure>{{ holds_chart }}</figure>
<table>
<caption>Holds placed, still active, and days held
(active holds counted to {{ doc.as_of }})</caption>
<thead><tr><th scope="col">Member</th><th scope="col" class="num">Holds placed</th>
<th scope="col" class="num">Active</th><th scope="col" class="num">Total hold days</th>
<th scope="col" class="num">Median hold days</th></tr></thead>
<tbody>
{% for m in doc.members %}
<tr><th scope="row">{{ m.member }}</th><td class="num">{{ m.holds_placed }}</td>
<td class="num">{{ m.active_holds }}</td><td class="num">{{ m.total_hold_days }}</td>
<td class="num">{{ m.median_hold_days }}</td></tr>
{% else %}
<tr><td colspan="5">No holds by then.</td></tr>
{% endfor %}
</tbody>
</table>
</section>

<section aria-labelledby="h-longest">
<h2 id="h-longest">The longest holds</h2>
<table>
<caption>The {{ doc.longest_holds|length }} longest holds</caption>
<thead><tr><th scope="col">Request</th><th scope="col">Member</th><th scope="col">Procedure</th>
<th scope="col">Placed</th><th scope="col">Ended</th><th scope="col" class="num">Days</th>
</tr></thead>
<tbody>
{% for h in doc.longest_holds %}
<tr><th scope="row">{{ h.request_id }}</th><td>{{ h.member }}</td><td>{{ h.procedure }}</td>
<td>{{ h.placed_at }}</td><td>{{ h.ended_at ~ " (" ~ h.end ~ ")" if h.ended_at else "active" }}</td>
<td class="num">{{ h.days }}</td></tr>
{% else %}
<tr><td colspan="6">No holds by then.</td></tr>
{% endfor %}
</tbody>
</table>
</section>

<section aria-labelledby="h-reproduce">
<h2 id="h-reproduce">Reproduce this report</h2>
<p>Anyone with an export of the log, the checkpoint above and the log's verifier key can
recompute this page, byte for byte, with no access to the service:</p>
<ol>
<li>the export: <code>docket export {{ bundle }}</code> on the server, or
<code>GET /v1/export</code> with an auditor's token, saved as <code>{{ bundle }}</code>;</li>
<li>the checkpoint of size {{ doc.checkpoint.size }} with root
<code>{{ doc.checkpoint.root }}</code>, as signed by the log, saved as
<code>{{ checkpoint_file }}</code> (<code>docket report --save-checkpoint FILE</code> writes it
beside the report);</li>
<li>the log's verifier key from <code>GET /public/log-key</code>, saved as
<code>{{ key_file }}</code>;</li>
<li>then run:</li>
</ol>
<pre>{{ command }}</pre>
<p>The command first verifies every event of the export (hash chain, Merkle root) against
the checkpoint and its signature, then folds the log to the moment above. Its output must
equal this file: compare them with <code>sha256sum</code>.</p>
</section>
</body>
</html>
"""

_env = Environment(autoescape=True, keep_trailing_newline=True)
_template = _env.from_string(_PAGE)


def _dash(value: Any) -> Any:
    return "—" if value is None else value


def render_html(report: Report) -> bytes:
    """A page a person reads and prints: the stamp, tables, charts, how to reproduce."""
    doc = report.document()
    years = doc["years"]
    charts: dict[str, Markup] = {
        "requests_chart": svg.bar_chart(
            "requests",
            "Requests by year submitted",
            [(str(y["year"]), y["requests"]) for y in years],
            "requests",
        ),
        "days_chart": svg.bar_chart(
            "days",
            "Median days from submission to decision, by year of decision",
            [(str(y["year"]), y["median_days_to_decision"]) for y in years],
            "days",
        ),
        "pending_chart": svg.bar_chart(
            "pending",
            "Requests waiting for a decision, by days waited",
            [(f"over {k}", v) for k, v in doc["pending_over_days"].items()],
            "requests",
            colour=svg.PENDING,
        ),
        "holds_chart": svg.bar_chart(
            "holds",
            "Total hold days by member",
            [(m["member"], m["total_hold_days"]) for m in doc["members"]],
            "days",
            colour=svg.PENDING,
        ),
    }
    page = _template.render(
        doc=doc,
        dash=_dash,
        command=reproduce_command(report, "html"),
        bundle=BUNDLE_FILE,
        checkpoint_file=CHECKPOINT_FILE,
        key_file=KEY_FILE,
        **charts,
    )
    return page.encode()


RENDERERS: dict[str, Callable[[Report], bytes]] = {
    "html": render_html,
    "csv": render_csv,
    "json": render_json,
}
