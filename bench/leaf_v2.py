"""CPU per event of the leaf hash, canonical form v1 against v2 (SPEC §4), on the
generator's mix of events: what the switch to v2 adds to append, import and verify.

`python -m bench.leaf_v2 [--events N]`: N generated events (default 20,000), each hashed
in v1 (`events.hashing`) and in v2 (`events.disclosure`, with the walk and with
`plain=True` as the chain walk can promise), in CPU time, the best of 7 rounds. For
information; B4 and B5 are the targets.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench import gen
from bench.cli import parser
from events.canonical import canonical, dumps_plain
from events.disclosure import leaf_hash_v2, new_salt
from events.model import HASHED_FIELDS


def events(count: int) -> list[dict[str, Any]]:
    out = []
    for batch in gen.rows(count, text_times=True):
        for row in batch:
            event = dict(zip(HASHED_FIELDS, row, strict=False))
            event["data"] = orjson.loads(event["data"])
            event["metadata"] = orjson.loads(event["metadata"])
            event["salt"] = new_salt()
            out.append(event)
    return out


def per_event(fn: Callable[[dict[str, Any]], bytes], sample: list[dict[str, Any]]) -> float:
    rounds = []
    for _ in range(7):
        start = time.process_time()
        for event in sample:
            fn(event)
        rounds.append((time.process_time() - start) / len(sample))
    return min(rounds) * 1e6


def main() -> None:
    args = parser(__doc__ or "", events=20_000).parse_args()
    sample = events(args.events)
    v1_fields = [{k: e[k] for k in HASHED_FIELDS if k != "salt"} for e in sample]
    by_id = {id(e): f for e, f in zip(sample, v1_fields, strict=True)}

    def v1(event: dict[str, Any]) -> bytes:
        return hashlib.sha256(b"\x00" + canonical(by_id[id(event)])).digest()

    def v1_plain(event: dict[str, Any]) -> bytes:
        return hashlib.sha256(b"\x00" + dumps_plain(by_id[id(event)])).digest()

    figures = {
        "v1 leaf (canonical, walk)": per_event(v1, sample),
        "v1 leaf (walk skipped)": per_event(v1_plain, sample),
        "v2 leaf (walk)": per_event(leaf_hash_v2, sample),
        "v2 leaf (plain=True)": per_event(lambda e: leaf_hash_v2(e, plain=True), sample),
    }
    print(f"== leaf hash CPU per event, {len(sample):,} generated events")
    for name, value in figures.items():
        print(f"   {name:<32} {value:6.2f} µs")
    walk = figures["v2 leaf (walk)"] - figures["v1 leaf (canonical, walk)"]
    skipped = figures["v2 leaf (plain=True)"] - figures["v1 leaf (walk skipped)"]
    print(f"   v2 - v1 with the walk: {walk:+.2f} µs; walk skipped: {skipped:+.2f} µs")
    sizes = [len(orjson.dumps(e["data"])) for e in sample]
    print(f"   (data size median {statistics.median(sizes):.0f} bytes)")


if __name__ == "__main__":
    main()
