"""C2SP tlog-proof@v1 texts (SPEC §6.2): written, read back, malformed ones refused."""

from __future__ import annotations

import pytest

from events.tlog_proof import TlogProofError, format_tlog_proof, parse_tlog_proof

NOTE = "example.com/log\n5\n" + "A" * 43 + "=\n\n\u2014 example.com/log AAAAAAAA\n"
HASHES = (b"\x01" * 32, b"\x02" * 32)


def test_written_as_the_spec_shows_and_read_back() -> None:
    text = format_tlog_proof(3, HASHES, NOTE)
    assert text == (
        "c2sp.org/tlog-proof@v1\nindex 3\n"
        + "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"
        + "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n\n"
        + NOTE
    )
    parsed = parse_tlog_proof(text)
    assert (parsed.index, parsed.proof, parsed.checkpoint, parsed.extra) == (3, HASHES, NOTE, None)
    extra = parse_tlog_proof(format_tlog_proof(0, (), NOTE, extra=b"vrf"))
    assert (extra.index, extra.proof, extra.extra) == (0, (), b"vrf")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "c2sp.org/tlog-proof@v2\nindex 3\n\n" + NOTE,
        "c2sp.org/tlog-proof@v1\nindex 03\n\n" + NOTE,
        "c2sp.org/tlog-proof@v1\nindex " + "9" * 21 + "\n\n" + NOTE,
        "c2sp.org/tlog-proof@v1\n\n" + NOTE,
        "c2sp.org/tlog-proof@v1\nindex 3\nAQ==\n\n" + NOTE,
        "c2sp.org/tlog-proof@v1\nextra !!\nindex 3\n\n" + NOTE,
        "c2sp.org/tlog-proof@v1\nindex 3\n",
        "c2sp.org/tlog-proof@v1\nindex 3\n"
        + "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n" * 65
        + "\n"
        + NOTE,
    ],
)
def test_a_malformed_proof_raises_its_own_error(text: str) -> None:
    with pytest.raises(TlogProofError):
        parse_tlog_proof(text)
