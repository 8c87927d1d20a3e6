"""DOCKET_WITNESSES and DOCKET_WITNESS_QUORUM (SPEC §8): read, checked, defaulted."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from events.cosignature import Cosigner
from service.platform.settings import Settings


def vkey(name: str) -> str:
    return Cosigner(name, Ed25519PrivateKey.generate()).verifier_key()


def test_witnesses_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = [{"url": "https://w1.example/", "key": vkey("w1.example/w")}]
    listed.append({"url": "https://w2.example", "key": vkey("w2.example/w")})
    monkeypatch.setenv("DOCKET_WITNESSES", json.dumps(listed))
    settings = Settings()
    assert [w.url for w in settings.witnesses] == ["https://w1.example", "https://w2.example"]
    assert settings.effective_witness_quorum == 2  # default: every witness
    monkeypatch.setenv("DOCKET_WITNESS_QUORUM", "1")
    assert Settings().effective_witness_quorum == 1
    monkeypatch.setenv("DOCKET_WITNESS_QUORUM", "")  # compose's empty default
    assert Settings().effective_witness_quorum == 2


def test_no_witnesses_means_quorum_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKET_WITNESSES", "[]")
    assert Settings().witnesses == () and Settings().effective_witness_quorum == 0


@pytest.mark.parametrize(
    ("witnesses", "quorum", "message"),
    [
        ("not json", None, "not JSON"),
        ('[{"url": "https://w.example"}]', None, "is not"),
        ('[{"url": "https://w.example", "key": "w+00000000+AAAA"}]', None, "witness 1"),
        (None, "3", "a quorum can never be reached"),
    ],
)
def test_refused(
    monkeypatch: pytest.MonkeyPatch, witnesses: str | None, quorum: str | None, message: str
) -> None:
    listed = json.dumps([{"url": "https://w.example", "key": vkey("w.example/w")}])
    monkeypatch.setenv("DOCKET_WITNESSES", witnesses or listed)
    if quorum is not None:
        monkeypatch.setenv("DOCKET_WITNESS_QUORUM", quorum)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_one_key_listed_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Ed25519PrivateKey.generate()
    first = Cosigner("w1.example/w", key).verifier_key()
    again = Cosigner("w2.example/w", key).verifier_key()  # the same key under another name
    other = vkey("w3.example/w")
    listed = [{"url": f"https://w{i}.example", "key": k} for i, k in enumerate([first, other])]
    monkeypatch.setenv("DOCKET_WITNESSES", json.dumps(listed))
    assert len(Settings().witnesses) == 2
    for duplicate in (again, first):
        listed.append({"url": "https://w9.example", "key": duplicate})
        monkeypatch.setenv("DOCKET_WITNESSES", json.dumps(listed))
        with pytest.raises(ValidationError, match=r"public key of witness 1 \(w1.example/w\)"):
            Settings()
        listed.pop()


def test_a_tlog_policy_file_in_place_of_the_json_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    from pathlib import Path

    from events.cosignature import Cosignature

    keys = [Cosigner(f"w{i}.example/w", Ed25519PrivateKey.generate()) for i in range(3)]
    path = Path(str(tmp_path)) / "policy"
    path.write_text(
        "".join(
            f"witness n{i} {k.verifier_key()} https://w{i}.example/\n" for i, k in enumerate(keys)
        )
        + "group g 2 n0 n1 n2\ngroup h all g n2\nquorum h\n"
    )
    monkeypatch.setenv("DOCKET_WITNESS_POLICY", str(path))
    settings = Settings()
    assert [w.url for w in settings.witnesses] == [f"https://w{i}.example" for i in range(3)]
    assert settings.effective_witness_quorum == 2  # n2 and one more

    def signed(*numbers: int) -> list[Cosignature]:
        return [Cosignature(keys[n].name, keys[n].key.key_id, 1, "") for n in numbers]

    assert settings.quorum_met(signed(0, 2)) and not settings.quorum_met(signed(0, 1))
    text = settings.policy_in_force(["log.example+00000000+AQ=="])
    assert text.startswith("log log.example+00000000+AQ==\nwitness n0 ")
    assert text.endswith("group g 2 n0 n1 n2\ngroup h 2 g n2\nquorum h\n")
    # no URL, a duplicate key, or both kinds of setting: refused
    for bad in (
        f"witness a {keys[0].verifier_key()}\nquorum a\n",
        f"witness a {keys[0].verifier_key()} https://a\n"
        f"witness b {keys[0].verifier_key()} https://b\nquorum a\n",
    ):
        path.write_text(bad)
        with pytest.raises(ValidationError, match="DOCKET_WITNESS_POLICY"):
            Settings()
    path.write_text("quorum none\n")
    monkeypatch.setenv("DOCKET_WITNESSES", json.dumps([{"url": "https://w", "key": vkey("w")}]))
    with pytest.raises(ValidationError, match="not both"):
        Settings()
