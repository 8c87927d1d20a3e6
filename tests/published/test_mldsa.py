"""ML-DSA-44 end to end (SPEC §4, §8): a Docket with `DOCKET_MLDSA_SIGNING_KEY_FILE` signs
each checkpoint twice, an ML-DSA-44 witness trusting only the log's ML-DSA-44 key and an
Ed25519 witness cosign it, the publication quorum counts both, and `/public/log-key` and
`/public/log/policy` list both log keys."""

from __future__ import annotations

from pathlib import Path

from events.checkpoints import parse_checkpoint, parse_verifier_key, split_note
from events.cosignature import parse_cosigner_key, verify_witnessed
from events.tlog_policy import parse_policy
from service.platform.keys import generate_key_file
from tests.published.harness import WitnessProcess, docket_settings, running_docket, wait_for

ORIGIN = "docket.example.org/log"


def test_a_log_signing_with_both_and_witnesses_of_both_kinds(
    database_url: str, tmp_path: Path
) -> None:
    ed_file, ml_file = tmp_path / "log.key", tmp_path / "log-mldsa.key"
    ed_vkey = generate_key_file(ed_file, ORIGIN)
    ml_vkey = generate_key_file(ml_file, ORIGIN, "ml-dsa-44")
    assert parse_verifier_key(ml_vkey).kind == 0x06
    witnesses = [
        WitnessProcess("w0.ngo.example/ed", tmp_path / "w0.pem", tmp_path / "w0.db", ed_vkey),
        WitnessProcess(
            "w1.ngo.example/pq", tmp_path / "w1.pem", tmp_path / "w1.db", ml_vkey,
            algorithm="ml-dsa-44",
        ),
    ]  # fmt: skip
    try:
        for witness in witnesses:
            witness.start()
        keys = [parse_cosigner_key(w.vkey) for w in witnesses]
        assert [k.kind for k in keys] == [0x04, 0x06]
        settings = docket_settings(
            database_url,
            ed_file,
            [w.config() for w in witnesses],
            2,
            mldsa_signing_key_file=ml_file,
        )
        with running_docket(settings) as docket:
            assert docket.get("/public/log-key").text == f"{ed_vkey}\n{ml_vkey}\n"
            policy = parse_policy(docket.get("/public/log/policy").text)
            assert [key.text for key, _ in policy.logs] == [ed_vkey, ml_vkey]
            docket.submit(3)

            def cosigned() -> str | None:
                note = docket.published_note()
                return note if note and parse_checkpoint(note).size >= 3 else None

            note = wait_for(cosigned, "a checkpoint cosigned by both witnesses")
            names = [name for name, _, _ in split_note(note)[1]]
            assert names[:2] == [ORIGIN, ORIGIN]  # the log's two lines
            for log_key in (ed_vkey, ml_vkey):
                _, valid = verify_witnessed(note, log_key, keys, 2)
                assert sorted(c.witness for c in valid) == [
                    "w0.ngo.example/ed",
                    "w1.ngo.example/pq",
                ]
    finally:
        for witness in witnesses:
            witness.stop()
