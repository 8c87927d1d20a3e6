"""Docket's `/public/log/policy` read by a tlog-policy checker written from the C2SP texts
alone (tests/tlog/tlog_policy_checker.py, importing nothing of Docket).

A Docket configured with `DOCKET_WITNESS_POLICY` (three real witnesses, two levels of groups)
serves its policy; the checker parses it, finds the same log, witnesses and rule, and for
every subset of the cosignatures on a served receipt's checkpoint reaches the quorum verdict
Docket reaches (`Settings.quorum_met`, what decides publication); `docket receipt verify
--policy` accepts the receipt whose checkpoint the checker accepts. Bad policies that the
C2SP text forbids are refused by both parsers.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from events.cosignature import parse_cosigner_key, verify_witnessed
from events.errors import PolicyError
from events.tlog_policy import parse_policy
from service.platform.keys import generate_key_file
from tests.api.conftest import ago, submission
from tests.published.harness import (
    DOCKET,
    docket_settings,
    running_docket,
    wait_for,
    witness_processes,
)
from tests.tlog import tlog_policy_checker as checker

ORIGIN = "docket.example.org/log"


def _policy_file(log_vkey: str, witnesses: list[tuple[str, str]]) -> str:
    (a_key, a_url), (b_key, b_url), (c_key, c_url) = witnesses
    return (
        "# two of three, through two levels of groups\n"
        f"log {log_vkey}\n"
        f"witness A {a_key} {a_url}\n"
        f"witness B {b_key} {b_url}\n"
        f"\twitness C {c_key} {c_url}   \n"
        "group A-or-B any A B\n"
        "group both all A-or-B C\n"
        "quorum both\n"
    )


def test_the_served_policy_reads_and_judges_as_docket_does(
    database_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "log.key"
    log_vkey = generate_key_file(key_file, ORIGIN)
    with witness_processes(tmp_path, log_vkey, count=3) as witnesses:
        policy_path = tmp_path / "policy"
        policy_path.write_text(_policy_file(log_vkey, [(w.vkey, w.url) for w in witnesses]))
        settings = docket_settings(
            database_url, key_file, [], 0, witness_quorum=None, witness_policy=policy_path
        )
        with running_docket(settings) as docket:
            served = docket.get("/public/log/policy").text
            policy = checker.parse(served.encode())
            assert [k.text for k in policy.logs] == [log_vkey]
            assert {n: k.text for n, (_, k) in policy.witnesses.items()} == {
                b"A": witnesses[0].vkey,
                b"B": witnesses[1].vkey,
                b"C": witnesses[2].vkey,
            }
            assert policy.quorum is not None
            auth = {"Authorization": f"Bearer {docket.token}"}
            made = httpx.post(
                docket.url + "/v1/requests",
                json=submission(disclosure="public", occurred_at=ago(2)),
                headers=auth,
                timeout=30,
            )
            assert made.status_code == 201, made.text
            circulated = httpx.post(
                f"{docket.url}/v1/requests/{made.json()['request_id']}/circulate",
                json={"occurred_at": ago(1)},
                headers=auth,
                timeout=30,
            )
            assert circulated.status_code < 300, circulated.text

            def cosigned_receipt() -> dict[str, object] | None:
                items = docket.get("/public/requests").json()["items"]
                if not items:
                    return None
                rid = items[0]["request_id"]
                receipt = docket.get(f"/public/requests/{rid}/receipt").json()
                note = receipt.get("checkpoint") or ""
                lines = note.rsplit("\n\n", 1)[-1].strip().split("\n") if note else []
                every = len(lines) >= 1 + len(witnesses) and not receipt["pending"]
                return receipt if every else None

            receipt = wait_for(
                cosigned_receipt, "a receipt proving all, cosigned by the three witnesses"
            )
            note = str(receipt["checkpoint"])
            assert checker.verdict(policy, note)

            # Every subset of the witnesses' lines: the same verdict, and the rule's.
            body, lines = note[: note.rfind("\n\n") + 2], note[note.rfind("\n\n") + 2 :]
            log_lines = [x for x in lines.splitlines() if x.startswith(f"\u2014 {ORIGIN} ")]
            by_witness = {
                name: [x for x in lines.splitlines() if x.startswith(f"\u2014 {w.name} ")]
                for name, w in zip("ABC", witnesses, strict=True)
            }
            docket_policy = parse_policy(served)
            keys = [parse_cosigner_key(w.key.text) for w in docket_policy.witnesses]
            for size in range(4):
                for chosen in itertools.combinations("ABC", size):
                    kept = [line for name in chosen for line in by_witness[name]]
                    pruned = body + "".join(x + "\n" for x in log_lines + kept)
                    ours = checker.verdict(policy, pruned)
                    _, valid = verify_witnessed(pruned, log_vkey, keys, 0)
                    assert ours == settings.quorum_met(valid), chosen
                    assert ours == ("C" in chosen and ("A" in chosen or "B" in chosen)), chosen

            # Docket's own verifier, given the policy file the checker read, accepts it too.
            (tmp_path / "receipt.json").write_text(json.dumps(receipt))
            (tmp_path / "served-policy").write_text(served)
            run = subprocess.run(
                [DOCKET, "receipt", "verify", str(tmp_path / "receipt.json"),
                 "--policy", str(tmp_path / "served-policy")],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert run.returncode == 0, run.stdout + run.stderr


def _vkeys() -> tuple[str, str, str]:
    out: list[str] = []
    for kind, name in ((1, ORIGIN), (4, "w1.example/w"), (4, "w2.example/w")):
        raw = bytes([kind]) + Ed25519PrivateKey.generate().public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw
        )
        key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex()
        out.append(f"{name}+{key_id}+{base64.b64encode(raw).decode()}")
    return out[0], out[1], out[2]


@pytest.mark.parametrize(
    "body",
    [
        "witness X {w1}\nquorum X\nquorum X\n",  # one quorum line only
        "witness X {w1}\n",  # no quorum line
        "witness X {w1}\nwitness Y {w1}\nquorum X\n",  # duplicate witness key
        "log {log}\nlog {log}\nquorum none\n",  # duplicate log key
        "witness X {w1}\nwitness X {w2}\nquorum X\n",  # a name defined twice
        "group G any X\nwitness X {w1}\nquorum G\n",  # a member defined after
        "witness X {w1}\ngroup G 2 X\nquorum G\n",  # k > n
        "witness X {w1}\ngroup G 0 X\nquorum G\n",  # k < 1
        "witness X {w1}\ngroup G any X X\nquorum G\n",  # a member twice
        "witness X {w1}\ngroup G any none\nquorum G\n",  # none as a member
        "quorum Z\n",  # undefined quorum
        "witness X {w1}\x0b\nquorum X\n",  # a control character
    ],
)
def test_both_parsers_refuse_what_the_text_forbids(body: str) -> None:
    log, w1, w2 = _vkeys()
    text = body.format(log=log, w1=w1, w2=w2)
    with pytest.raises(checker.Refused):
        checker.parse(text.encode())
    with pytest.raises(PolicyError):
        parse_policy(text)


def test_both_parsers_accept_and_agree_on_the_spec_example() -> None:
    log, w1, w2 = _vkeys()
    text = (
        f"log {log} https://log.example/\n# comment\n  \n"
        f"witness X1 {w1}\nwitness X2 {w2} https://w2.example/\n"
        "group G all X1 X2\ngroup H any G X1\nquorum H\n"
    )
    ours, theirs = checker.parse(text.encode()), parse_policy(text)
    for cosigned in ([], ["X1"], ["X2"], ["X1", "X2"]):
        assert checker.met(ours, {c.encode() for c in cosigned}) == theirs.satisfied(cosigned)


def test_the_checker_refuses_a_note_of_another_log() -> None:
    log, w1, _ = _vkeys()
    policy = checker.parse(f"log {log}\nwitness X {w1}\nquorum X\n".encode())
    with pytest.raises(checker.Refused):
        checker.verdict(policy, "other.example/log\n1\nAAAA\n\n\u2014 other.example/log AAAA\n")
