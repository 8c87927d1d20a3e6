"""Issue 12 done: three `docket witness serve` processes, `DOCKET_WITNESS_QUORUM=2`, and a
Docket that publishes cosigned checkpoints; a tlog-tiles client written from the spec alone
reads the mounted tiles over HTTP and recomputes the root and the proofs; the public
proofs need no token and stop at the published size; `/metrics` shows each witness."""

from __future__ import annotations

from pathlib import Path

import httpx

from events.checkpoints import parse_checkpoint
from events.cosignature import parse_cosigner_key, verify_witnessed
from events.merkle import verify_consistency, verify_inclusion
from service.platform.keys import generate_key_file
from service.publishing.public_log import FULL_TILE_CACHE, PARTIAL_TILE_CACHE
from tests.published.harness import (
    docket_settings,
    running_docket,
    wait_for,
    witness_processes,
)
from tests.tlog.tiles_client import TilesClient

ORIGIN = "docket.example.org/log"


def test_three_witnesses_quorum_two_publish_cosigned_checkpoints(
    database_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "log.key"
    log_vkey = generate_key_file(key_file, ORIGIN)
    with witness_processes(tmp_path, log_vkey) as witnesses:
        configs = [w.config() for w in witnesses]
        keys = [parse_cosigner_key(w.vkey) for w in witnesses]
        settings = docket_settings(database_url, key_file, configs, 2)
        with running_docket(settings) as docket:
            assert docket.get("/public/log/checkpoint").status_code == 404  # nothing yet
            docket.submit(300)
            head = 300

            def cosigned_at_head() -> str | None:
                note = docket.published_note()
                if note is None or parse_checkpoint(note).size < head:
                    return None
                return note

            note = wait_for(cosigned_at_head, "a cosigned checkpoint of the whole log")
            checkpoint, valid = verify_witnessed(note, log_vkey, keys, 2)
            assert checkpoint.size == head and len(valid) >= 2
            # the same note on both paths, read one after the other: the third witness's
            # cosignature may land between two reads (it did, once in CI), so they are
            # read again until they agree
            wait_for(
                lambda: docket.get("/public/checkpoint").text == docket.published_note(),
                "the same checkpoint on both public paths",
            )

            policy = docket.get("/public/log/witnesses").json()
            assert policy["quorum"] == 2
            assert [w["vkey"] for w in policy["witnesses"]] == [w.vkey for w in witnesses]
            assert [w["url"] for w in policy["witnesses"]] == [w.url for w in witnesses]

            # A tlog-tiles client that knows only the spec, over HTTP, no token.
            with httpx.Client(base_url=docket.url + "/public/log/", timeout=30) as http:
                seen: dict[str, httpx.Response] = {}

                def fetch(path: str) -> bytes:
                    answer = http.get(path)
                    assert answer.status_code == 200, (path, answer.text)
                    seen[path] = answer
                    return answer.content

                reader = TilesClient(fetch, checkpoint.size)
                assert reader.root() == checkpoint.root
                for index in (0, 137, 255, 256, 299):
                    verify_inclusion(
                        reader.leaf_hash(index),
                        index,
                        checkpoint.size,
                        reader.inclusion_path(index),
                        checkpoint.root,
                    )
                for path, answer in seen.items():
                    assert answer.headers["content-type"] == "application/octet-stream"
                    expected = PARTIAL_TILE_CACHE if ".p/" in path else FULL_TILE_CACHE
                    assert answer.headers["cache-control"] == expected
                    assert answer.headers["etag"]
                assert "tile/0/000" in seen and "tile/0/001.p/44" in seen
                assert http.get("tile/0/001.p/45").status_code == 404  # beyond the published

                # The public proofs answer what the tiles prove, within the published size.
                for old in (1, 100, 256):
                    proof = http.get("proofs/consistency", params={"from": old}).json()
                    assert proof["to"] == checkpoint.size
                    assert [bytes.fromhex(p) for p in proof["proof"]] == reader.consistency_proof(
                        old
                    )
                    verify_consistency(
                        old,
                        checkpoint.size,
                        reader.mth(0, old),
                        checkpoint.root,
                        reader.consistency_proof(old),
                    )
                inclusion = http.get("proofs/inclusion", params={"position": 138}).json()
                assert [bytes.fromhex(p) for p in inclusion["proof"]] == reader.inclusion_path(137)
                beyond = http.get("proofs/inclusion", params={"position": 1, "tree_size": head + 1})
                assert beyond.status_code == 404
                assert beyond.headers["content-type"] == "application/problem+json"
                assert beyond.json()["rule"] == "beyond-the-published-log"
                later = http.get("proofs/consistency", params={"from": 1, "to": head + 1})
                assert later.json()["rule"] == "beyond-the-published-log"

            # /metrics: per witness the last cosigned size and the last error.
            metrics = httpx.get(
                docket.url + "/metrics",
                headers={"Authorization": f"Bearer {docket.token}"},
                timeout=30,
            ).text
            for witness in witnesses:
                label = f'witness="{witness.name}"'
                assert f"docket_witness_last_cosigned_size{{{label}}}" in metrics
                assert f"docket_witness_failing{{{label}}}" in metrics
                assert any(
                    line.startswith("docket_witness_last_error_info{") and label in line
                    for line in metrics.splitlines()
                )
