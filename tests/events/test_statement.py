"""A receipt's statement (SPEC §6.2): its text, its signature, and its header never a log's."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.checkpoints import STATEMENT_HEADER, CheckpointError, Signer, parse_checkpoint
from events.statement import (
    Statement,
    StatementError,
    parse_statement,
    sign_statement,
    verify_statement,
)
from service.platform.settings import Settings

SIGNER = Signer("docket.test/log", Ed25519PrivateKey.generate())


def test_a_statement_is_signed_by_the_log_key_and_read_back() -> None:
    said = Statement("docket.test/log", "HX-2026-0042", 120, (3, 17, 118))
    note = sign_statement(SIGNER, said)
    assert note.startswith(
        "docket.receipt-statement/v1\norigin docket.test/log\nrequest HX-2026-0042\n"
        "size 120\npositions 3 17 118\n\n\u2014 docket.test/log "
    )
    assert verify_statement(note, SIGNER.verifier_key()) == said
    none = sign_statement(SIGNER, Statement("docket.test/log", "HX-2026-0042", 0, ()))
    assert verify_statement(none, SIGNER.verifier_key()).positions == ()


def test_another_key_or_a_changed_line_is_refused() -> None:
    note = sign_statement(SIGNER, Statement("docket.test/log", "HX-2026-0042", 9, (1, 9)))
    other = Signer("docket.test/log", Ed25519PrivateKey.generate())
    with pytest.raises(StatementError, match="signature"):
        verify_statement(note, other.verifier_key())
    with pytest.raises(StatementError, match="signature"):
        verify_statement(note.replace("positions 1 9", "positions 1"), SIGNER.verifier_key())


@pytest.mark.parametrize(
    "text",
    [
        "docket.test/log\n9\nAA==\n",
        f"{STATEMENT_HEADER}\norigin o\nrequest r\nsize 9\n",
        f"{STATEMENT_HEADER}\norigin o\nrequest r\nsize 9\npositions 9 1\n",
        f"{STATEMENT_HEADER}\norigin o\nrequest r\nsize 9\npositions 10\n",
        f"{STATEMENT_HEADER}\norigin o\nrequest r\nsize 9\npositions 01\n",
        f"{STATEMENT_HEADER}\norigin o\nrequest r\nsize {'1' * 21}\npositions\n",
        f"{STATEMENT_HEADER}\norigin o p\nrequest r\nsize 9\npositions\n",
    ],
)
def test_a_malformed_statement_raises_its_own_error(text: str) -> None:
    with pytest.raises(StatementError):
        parse_statement(text)


def test_the_header_is_never_a_log_origin() -> None:
    with pytest.raises(CheckpointError):
        Signer(STATEMENT_HEADER, Ed25519PrivateKey.generate())
    with pytest.raises(CheckpointError):
        parse_checkpoint(f"{STATEMENT_HEADER}\n1\n{'A' * 43}=\n\n\u2014 x AAAAAAA=\n")
    with pytest.raises(ValueError, match="heads a receipt's statement"):
        Settings(log_origin=STATEMENT_HEADER, environment="test")
