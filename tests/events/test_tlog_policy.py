"""C2SP tlog-policy files (SPEC §4, §6.1): parsed, evaluated, written, malformed refused."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.tlog_policy import PolicyError, parse_policy, policy_text, simple_policy


def vkey(name: str, kind: int, raw: bytes | None = None) -> str:
    if raw is None:
        raw = (
            Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
    body = bytes([kind]) + raw
    key_id = hashlib.sha256(name.encode() + b"\n" + body).digest()[:4]
    return f"{name}+{key_id.hex()}+{base64.b64encode(body).decode()}"


LOG = vkey("example.com/log", 0x01)
X = [vkey(f"x{i}.example/w", 0x04) for i in range(3)]
Y = [vkey(f"y{i}.example/w", 0x04) for i in range(3)]

EXAMPLE = f"""# the example of C2SP tlog-policy
log {LOG}

witness X1 {X[0]}
witness X2 {X[1]}\thttps://x2.example/
witness X3 {X[2]}
group X-witnesses 2 X1 X2 X3

  witness Y1 {Y[0]}
witness Y2 {Y[1]}
witness Y3 {Y[2]}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""


def test_the_spec_example_and_its_quorum() -> None:
    policy = parse_policy(EXAMPLE)
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert policy.witnesses[1].url == "https://x2.example/"
    assert policy.log_key("example.com/log") is not None
    assert policy.minimum() == 3
    assert policy.satisfied({"X1", "X3", "Y2"})
    assert not policy.satisfied({"X1", "Y1", "Y2", "Y3"})
    assert not policy.satisfied({"X1", "X2", "X3"})
    again = parse_policy(policy_text(policy))
    assert again.satisfied({"X1", "X3", "Y2"}) and not again.satisfied({"X1", "Y1"})


def test_the_simple_settings_as_a_policy() -> None:
    assert parse_policy(simple_policy([LOG], [], 0)).satisfied(set())
    two = parse_policy(simple_policy([LOG], [(X[0], "https://a"), (X[1], None)], 2))
    assert two.minimum() == 2 and two.witnesses[0].url == "https://a"
    assert two.satisfied({"x0.example/w", "x1.example/w"}) and not two.satisfied({"x0.example/w"})


def test_quorum_none_and_a_single_witness() -> None:
    assert parse_policy("quorum none\n").satisfied(())
    one = parse_policy(f"witness a {X[0]}\nquorum a\n")
    assert one.satisfied({"a"}) and not one.satisfied(()) and one.minimum() == 1


RAW = bytes(range(32))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "quorum"),
        ("quorum none\nquorum none\n", "exactly one"),
        (f"witness a {X[0]}\nquorum b\n", "not defined"),
        (f"quorum a\nwitness a {X[0]}\n", "not defined"),
        (f"witness a {X[0]}\nwitness a {X[1]}\nquorum a\n", "defined already"),
        (f"witness none {X[0]}\nquorum none\n", "predefined"),
        (f"witness a {X[0]}\ngroup g 2 a\nquorum g\n", "threshold"),
        (f"witness a {X[0]}\ngroup g 0 a\nquorum g\n", "threshold"),
        (f"witness a {X[0]}\ngroup g {'1' * 21} a\nquorum g\n", "digits"),
        (f"witness a {X[0]}\ngroup g any a a\nquorum g\n", "at most once"),
        (f"witness a {X[0]}\ngroup g any none\nquorum g\n", "not a witness"),
        (f"witness a {X[0]}\ngroup g any g\nquorum g\n", "not a witness"),
        (
            f"witness a {vkey('a', 0x04, RAW)}\nwitness b {vkey('b', 0x04, RAW)}\nquorum a\n",
            "listed already",
        ),
        (
            f"log {vkey('l', 0x01, RAW)}\nlog {vkey('m', 0x01, RAW)}\nquorum none\n",
            "listed already",
        ),
        (f"log {X[0]}\nquorum none\n", "signature type"),
        (f"witness a {LOG}\nquorum a\n", "signature type"),
        ("witness a " + X[0].replace(X[0].split("+")[1], "00000000") + "\nquorum a\n", "key id"),
        ("quorum none\r\n", "control character"),
        ("quorum\x00 none\n", "control character"),
        ("frobnicate x\nquorum none\n", "unknown keyword"),
    ],
)
def test_a_malformed_policy_is_refused_naming_why(text: str, why: str) -> None:
    with pytest.raises(PolicyError, match=why):
        parse_policy(text)
