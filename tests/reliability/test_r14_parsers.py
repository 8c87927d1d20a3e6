"""R14 (SPEC §11): every parser of outside input, under generated and mutated inputs.

Each parser either returns or raises exactly its own typed error: never another exception,
and through HTTP never a 500. Inputs are hypothesis's own and, mostly, mutations of valid
samples (flipped, inserted and deleted characters or bytes; numbers replaced with 21- and
5,000-digit ones, signs, exponents and other scripts' digits; lines dropped, duplicated,
swapped), so that the mutants get past the first checks and reach the deep ones. What a
parser accepts never holds a number over 20 digits.

Bounded in time: `max_examples` 200 per parser (60 through the CLI), no deadline; about
11 s in all, in memory and on SQLite (docs/RELIABILITY.md, R14).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bench.receipt_sample import Sample, sample
from events.checkpoints import (
    CheckpointError,
    Signer,
    parse_checkpoint,
    parse_verifier_key,
    split_note,
    verify_checkpoint,
)
from events.cosignature import (
    CosignatureError,
    Cosigner,
    add_signature_lines,
    parse_cosigner_key,
    parse_signature_lines,
    verify_cosignature_line,
    verify_witnessed,
)
from events.errors import (
    PolicyError,
    ProofError,
    ReceiptError,
    StatementError,
    TileError,
    TlogProofError,
)
from events.merkle import inclusion_proof, node_source, verify_consistency, verify_inclusion
from events.numbers import MAX_DIGITS
from events.proof_answers import parse_consistency_answer, parse_inclusion_answer
from events.receipt.cosignatures import parse_witness_key, verify_cosignatures
from events.receipt.summary import summary
from events.receipt.verify import verify_receipt
from events.statement import parse_statement, verify_statement
from events.tiles import Tile, TileHashes, parse_tile_path, tiles_of_tree
from events.tlog_policy import parse_policy, simple_policy
from events.tlog_proof import parse_tlog_proof
from events.witnessing import WitnessConfig, submission_body
from service.cli import app as cli
from service.publishing.public_log import WitnessPolicy, public_log_router
from service.witness.app import create_witness_app
from service.witness.protocol import (
    Latest,
    Refusal,
    check_submission,
    parse_submission,
    verify_submitted_checkpoint,
)
from service.witness.storage import WitnessStore
from service.witness.witness import Witness, trusted_logs
from tests.witness.logs import FakeLog

R14 = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LIMIT = 10**MAX_DIGITS

# --- samples ----------------------------------------------------------------------------

LOG = FakeLog().grow(300)
OTHER = FakeLog(origin="other.example/log").grow(3)
WITNESSES = [Cosigner(f"w{i}.example/w", Ed25519PrivateKey.generate()) for i in range(2)]


def _cosigned(note: str) -> str:
    text, _ = split_note(note)
    return add_signature_lines(
        note, [w.cosign(text, 1_700_000_000 + i) for i, w in enumerate(WITNESSES)]
    )


NOTES = [LOG.checkpoint(0), LOG.checkpoint(1), LOG.checkpoint(300), _cosigned(LOG.checkpoint(257))]
VKEYS = [LOG.vkey(), OTHER.vkey(), *(w.verifier_key() for w in WITNESSES)]
TILE_PATHS = [t.path() for t in tiles_of_tree(300)] + [Tile(2, 1234067, 7).path()]
BODIES = [
    submission_body(0, [], LOG.checkpoint(10)),
    submission_body(10, LOG.proof(10, 300), LOG.checkpoint(300)),
    submission_body(257, LOG.proof(257, 300), _cosigned(LOG.checkpoint(300))),
]


def _answers() -> list[dict[str, Any]]:
    nodes = node_source(LOG.nodes)
    return [
        {
            "from": 10,
            "to": 300,
            "root_from": LOG.root(10).hex(),
            "root_to": LOG.root(300).hex(),
            "proof": [h.hex() for h in LOG.proof(10, 300)],
        },
        {
            "position": 42,
            "leaf_index": 41,
            "tree_size": 300,
            "leaf_hash": LOG.nodes[(0, 41)].hex(),
            "root": LOG.root(300).hex(),
            "proof": [h.hex() for h in inclusion_proof(41, 300, nodes)],
        },
    ]


ANSWERS = _answers()
RECEIPT: Sample = sample(3, witnesses=2, quorum=2, pending=1, other_entries=20)

# --- mutations ----------------------------------------------------------------------------

#: What replaces a number: the refused lengths, and what int() would take but a parser must not.
NUMBERS = [
    "1" + "0" * 20,
    "9" * 21,
    "9" * 5000,
    "0" * 25,
    "-1",
    "+1",
    "1e3",
    "1_000",
    " 1",
    "\u0663",
]
_DIGIT_RUN = re.compile(r"[0-9]+")
_HUGE = (10**20, -(10**20), 10**5000, 2**64, 10**19, -1, 0)


def huge_integers() -> st.SearchStrategy[int]:
    # Drawn by index: hypothesis prints its strategies, and repr(10**5000) raises.
    return st.integers(0, len(_HUGE) - 1).map(lambda i: _HUGE[i])


@st.composite
def mutated_text(draw: st.DrawFn, samples: list[str]) -> str:
    """A sample with one to three mutations."""
    text = draw(st.sampled_from(samples))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["flip", "insert", "delete", "number", "repeat", "drop", "dup", "swap"])
        )
        at = draw(st.integers(0, len(text)))
        if kind == "flip" and text:
            at = min(at, len(text) - 1)
            text = text[:at] + draw(st.characters(codec="utf-8")) + text[at + 1 :]
        elif kind == "insert":
            text = text[:at] + draw(st.text(max_size=8)) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)) :]
        elif kind == "number":
            runs = list(_DIGIT_RUN.finditer(text))
            if runs:
                # Half the time the first: the size or level a header line leads with.
                run = runs[0] if draw(st.booleans()) else draw(st.sampled_from(runs))
                number = draw(st.sampled_from(["9" * 21, "9" * 5000]) | st.sampled_from(NUMBERS))
                text = text[: run.start()] + number + text[run.end() :]
        elif kind == "repeat":  # a piece many times over: "x999/" into a 5,000-digit index
            piece = text[at : at + draw(st.integers(1, 6))]
            text = text[:at] + piece * draw(st.sampled_from([2, 8, 1700])) + text[at:]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if kind == "drop":
                del lines[i]
            elif kind == "dup":
                lines.insert(i, lines[j])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


@st.composite
def renumbered(draw: st.DrawFn, samples: list[str]) -> str:
    """A sample with one number replaced and nothing else, so that it reaches the parse of
    that number whole (other mutations would often stop the parse earlier)."""
    text = draw(st.sampled_from(samples))
    runs = list(_DIGIT_RUN.finditer(text))
    if not runs:
        return text
    run = runs[0] if draw(st.booleans()) else draw(st.sampled_from(runs))
    number = draw(st.sampled_from(["9" * 21, "9" * 5000]) | st.sampled_from(NUMBERS))
    return text[: run.start()] + number + text[run.end() :]


def texts(samples: list[str]) -> st.SearchStrategy[str]:
    """Mostly mutants of the samples; some of hypothesis's own text."""
    return st.one_of(
        mutated_text(samples), mutated_text(samples), renumbered(samples), st.text(max_size=300)
    )


@st.composite
def mutated_bytes(draw: st.DrawFn, samples: list[str]) -> bytes:
    data = bytearray(draw(texts(samples)).encode("utf-8", "surrogatepass"))
    if data and draw(st.booleans()):  # a raw byte: now and then not UTF-8 any more
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        huge_integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*at, index))


@st.composite
def mutated_json(draw: st.DrawFn, samples: list[Any]) -> Any:
    """A JSON sample with one to three members replaced (a huge number, a mutated string,
    any JSON value) or deleted."""
    value = copy.deepcopy(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(value))))
        if not path:
            continue
        parent = value
        for step in path[:-1]:
            parent = parent[step]
        old = parent[path[-1]]
        kind = draw(st.sampled_from(["number", "string", "any", "delete"]))
        if kind == "delete":
            del parent[path[-1]]
        elif kind == "number":
            parent[path[-1]] = draw(huge_integers() | st.just(True))
        elif kind == "string" and isinstance(old, str):
            parent[path[-1]] = draw(mutated_text([old]))
        else:
            parent[path[-1]] = draw(_json_values())
    return value


def returns_or_raises(call: Callable[[], Any], *errors: type[BaseException]) -> Any:
    """`call()`'s value, or None if it raised one of `errors`; anything else propagates."""
    try:
        return call()
    except errors:
        return None


# --- signed notes and checkpoints -----------------------------------------------------------


@R14
@given(texts(NOTES))
def test_signed_notes_and_checkpoints(note: str) -> None:
    returns_or_raises(lambda: split_note(note), CheckpointError)
    checkpoint = returns_or_raises(lambda: parse_checkpoint(note), CheckpointError)
    if checkpoint is not None:
        assert 0 <= checkpoint.size < LIMIT
    verified = returns_or_raises(lambda: verify_checkpoint(note, LOG.vkey()), CheckpointError)
    if verified is not None:
        assert note.split("\n", 2)[:2] == [LOG.origin, str(verified.size)]


@R14
@given(texts(VKEYS))
def test_verifier_keys(text: str) -> None:
    returns_or_raises(lambda: parse_verifier_key(text), CheckpointError)
    returns_or_raises(lambda: parse_cosigner_key(text), CosignatureError)
    returns_or_raises(lambda: parse_witness_key(text), ReceiptError)


# --- cosignatures ----------------------------------------------------------------------------


@R14
@given(texts(NOTES), st.integers(0, 2))
def test_cosignatures(note: str, quorum: int) -> None:
    keys = [w.key for w in WITNESSES]
    text = NOTES[3][: NOTES[3].rfind("\n\n") + 1]
    lines = note[note.rfind("\n\n") + 2 :] if "\n\n" in note else note
    returns_or_raises(lambda: parse_signature_lines(lines), CosignatureError)
    for key in keys:
        returns_or_raises(
            lambda key=key: verify_cosignature_line(text, lines, key),  # type: ignore[misc]
            CosignatureError,
        )
    returns_or_raises(
        lambda: verify_witnessed(note, LOG.vkey(), keys, quorum), CheckpointError, CosignatureError
    )
    returns_or_raises(lambda: add_signature_lines(NOTES[2], lines.split("\n")), CosignatureError)


# --- ML-DSA-44 (tlog-cosignature 0x06): the log's second line, witness lines, vkeys ----------

MLOG = FakeLog(origin="pq.example/log").grow(300)
MLOG.signer = Signer(MLOG.origin, MLOG.key, MLDSA44PrivateKey.generate())
MLOG_VKEY = MLOG.signer.verifier_keys()[1]
PQ_WITNESSES = [Cosigner(f"pq{i}.example/w", MLDSA44PrivateKey.generate()) for i in range(2)]


def _pq_cosigned(note: str) -> str:
    text, _ = split_note(note)
    lines = [w.cosign(text, 1_700_000_000 + i) for i, w in enumerate(PQ_WITNESSES + WITNESSES)]
    return add_signature_lines(note, lines)


ML_NOTES = [MLOG.checkpoint(0), MLOG.checkpoint(300), _pq_cosigned(MLOG.checkpoint(257))]
ML_VKEYS = [MLOG_VKEY, *(w.verifier_key() for w in PQ_WITNESSES)]


@R14
@given(texts(ML_NOTES), st.integers(0, 4))
def test_ml_dsa_notes_and_cosignatures(note: str, quorum: int) -> None:
    checkpoint = returns_or_raises(lambda: parse_checkpoint(note), CheckpointError)
    if checkpoint is not None:
        assert 0 <= checkpoint.size < LIMIT
    verified = returns_or_raises(lambda: verify_checkpoint(note, MLOG_VKEY), CheckpointError)
    if verified is not None:
        assert note.split("\n", 2)[:2] == [MLOG.origin, str(verified.size)]
        assert 0 <= verified.size < LIMIT
    keys = [w.key for w in PQ_WITNESSES + WITNESSES]
    returns_or_raises(
        lambda: verify_witnessed(note, MLOG_VKEY, keys, quorum), CheckpointError, CosignatureError
    )
    text = ML_NOTES[2][: ML_NOTES[2].rfind("\n\n") + 1]
    lines = note[note.rfind("\n\n") + 2 :] if "\n\n" in note else note
    for key in keys[:2]:
        returns_or_raises(
            lambda key=key: verify_cosignature_line(text, lines, key),  # type: ignore[misc]
            CosignatureError,
        )
    vkeys = [w.verifier_key() for w in PQ_WITNESSES + WITNESSES]
    for found in returns_or_raises(lambda: verify_cosignatures(note, vkeys), ReceiptError) or []:
        assert 0 <= found.timestamp < 2**63


@R14
@given(texts(ML_VKEYS))
def test_ml_dsa_verifier_keys(text: str) -> None:
    parsed = returns_or_raises(lambda: parse_verifier_key(text), CheckpointError)
    if parsed is not None:
        assert parsed.text() == text.strip()
    returns_or_raises(lambda: parse_cosigner_key(text), CosignatureError)
    returns_or_raises(lambda: parse_witness_key(text), ReceiptError)


def test_ml_dsa_long_numbers_are_refused_by_name() -> None:
    body, signatures = ML_NOTES[2].split("\n\n", 1)
    origin, _, root = body.split("\n")
    witness_line = signatures.split("\n")[2]  # the first ML-DSA-44 witness's
    for digits in (21, 5000):
        text = f"{origin}\n{'9' * digits}\n{root}\n"
        with pytest.raises(CheckpointError, match=f"tree size has {digits:,} digits"):
            verify_checkpoint(f"{text}\n{signatures}", MLOG_VKEY)
        with pytest.raises(CosignatureError, match=f"tree size has {digits:,} digits"):
            verify_cosignature_line(text, witness_line, PQ_WITNESSES[0].key)
        with pytest.raises(ReceiptError, match=f"tree size has {digits:,} digits"):
            verify_cosignatures(f"{text}\n{signatures}", [PQ_WITNESSES[0].verifier_key()])


# --- tile paths and tiles ----------------------------------------------------------------


@R14
@given(texts(TILE_PATHS), st.integers(0, 2**70))
def test_tile_paths(path: str, size: int) -> None:
    tile = returns_or_raises(lambda: parse_tile_path(path), TileError)
    if tile is not None:
        assert tile.path() == path and tile.index < LIMIT
        returns_or_raises(lambda: TileHashes(size, {tile: b"\0" * 32 * tile.width}), TileError)


# --- the witness's add-checkpoint body --------------------------------------------------------


@R14
@given(mutated_bytes([b.decode() for b in BODIES]) | st.binary(max_size=300))
def test_witness_bodies(body: bytes) -> None:
    submission = returns_or_raises(lambda: parse_submission(body), Refusal)
    if submission is None:
        return
    assert submission.old_size < LIMIT
    trusted = trusted_logs([LOG.vkey()])
    checkpoint = returns_or_raises(
        lambda: verify_submitted_checkpoint(submission, trusted), Refusal
    )
    if checkpoint is not None:
        for latest in (None, Latest(10, LOG.root(10)), Latest(257, LOG.root(257))):
            returns_or_raises(
                lambda latest=latest: check_submission(submission, checkpoint, latest),  # type: ignore[misc]
                Refusal,
            )


# --- proofs ---------------------------------------------------------------------------------


@R14
@given(mutated_json(ANSWERS) | _json_values())
def test_proof_answers(answer: Any) -> None:
    proof = returns_or_raises(lambda: parse_consistency_answer(answer, 10, 300), ProofError)
    if proof is not None:
        root = LOG.root(300)
        returns_or_raises(
            lambda: verify_consistency(10, 300, LOG.root(10), root, proof), ProofError
        )
    found = returns_or_raises(lambda: parse_inclusion_answer(answer, 42, 300), ProofError)
    if found is not None:
        leaf, hashes = found
        returns_or_raises(
            lambda: verify_inclusion(leaf, 41, 300, hashes, LOG.root(300)), ProofError
        )


# --- receipts ---------------------------------------------------------------------------------


def _receipt_samples() -> list[Any]:
    few = copy.deepcopy(RECEIPT.receipt)
    few["checkpoint"] = few["checkpoint"].rstrip("\n").rsplit("\n", 1)[0] + "\n"
    return [RECEIPT.receipt, few]


RECEIPTS = _receipt_samples()
WITNESS_KEYS = [w.vkey for w in RECEIPT.witnesses]


@R14
@given(mutated_json(RECEIPTS) | _json_values(), st.sampled_from([None, 1, 2]))
def test_receipts(receipt: Any, quorum: int | None) -> None:
    check = verify_receipt(receipt, RECEIPT.log_key, WITNESS_KEYS, quorum)  # never raises
    summary(check)
    if check.ok:
        assert all(abs(e["position"]) < LIMIT for e in check.events)


@R14
@given(mutated_text([json.dumps(RECEIPTS[0])]))
def test_receipt_texts(text: str) -> None:
    try:
        receipt = orjson.loads(text.encode("utf-8", "surrogatepass"))
    except orjson.JSONDecodeError:
        return
    summary(verify_receipt(receipt, RECEIPT.log_key, WITNESS_KEYS))


@R14
@given(texts([RECEIPT.receipt["statement"], RECEIPT.receipt["statement"].split("\n\n")[0] + "\n"]))
def test_receipt_statements(note: str) -> None:
    text = note.split("\n\n")[0] + "\n"
    said = returns_or_raises(lambda: parse_statement(text), StatementError)
    if said is not None:
        assert said.size < LIMIT and all(0 < p <= said.size for p in said.positions)
    returns_or_raises(lambda: verify_statement(note, RECEIPT.log_key), StatementError)


@R14
@given(texts([e["tlog_proof"] for e in RECEIPT.receipt["events"][:2]]))
def test_tlog_proofs(text: str) -> None:
    parsed = returns_or_raises(lambda: parse_tlog_proof(text), TlogProofError)
    if parsed is not None:
        assert parsed.index < LIMIT and len(parsed.proof) <= 64


POLICIES = [
    simple_policy([LOG.vkey()], [(w.verifier_key(), "https://w.example") for w in WITNESSES], 2),
    f"log {LOG.vkey()}\nwitness a {VKEYS[2]}\nwitness b {VKEYS[3]}\ngroup g any a b\n"
    "group h 1 g\nquorum h\n",
]


@R14
@given(texts(POLICIES) | mutated_bytes(POLICIES))
def test_tlog_policies(text: str | bytes) -> None:
    policy = returns_or_raises(lambda: parse_policy(text), PolicyError)
    if policy is not None:
        assert policy.minimum() <= len(policy.witnesses)
        policy.satisfied({w.name for w in policy.witnesses})


@settings(R14, max_examples=60)
@given(mutated_text([json.dumps(RECEIPTS[0])]))
def test_docket_receipt_verify(tmp_path: Path, text: str) -> None:
    path = tmp_path / "receipt.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    args = ["receipt", "verify", str(path), "--log-key", RECEIPT.log_key]
    for key in WITNESS_KEYS:
        args += ["--witness", key]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


# --- through HTTP: no 500 ---------------------------------------------------------------------


class _MemorySource:
    async def published_checkpoint(self) -> str | None:
        return NOTES[2]

    async def node_hashes(self, level: int, first: int, end: int) -> list[bytes]:
        return [LOG.nodes[(level, i)] for i in range(first, end) if (level, i) in LOG.nodes]


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop:
        yield loop


@pytest.fixture(scope="module")
def public_log(runner: asyncio.Runner) -> Iterator[httpx.AsyncClient]:
    app = FastAPI()
    policy = WitnessPolicy(1, tuple(WitnessConfig("http://w", w.verifier_key()) for w in WITNESSES))
    app.include_router(public_log_router(_MemorySource(), policy))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://log")
    yield client
    runner.run(client.aclose())


@R14
@given(texts([p.removeprefix("tile/") for p in TILE_PATHS]))
def test_the_tile_route(runner: asyncio.Runner, public_log: httpx.AsyncClient, path: str) -> None:
    url = "/public/log/tile/" + quote(path, safe="/")
    answer = runner.run(public_log.get(url))
    assert answer.status_code in (200, 404), (url, answer.status_code, answer.text[:200])


@pytest.fixture(scope="module")
def witness_http(
    runner: asyncio.Runner, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.AsyncClient]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('r14') / 'witness.db'}"
    store = WitnessStore(url)
    runner.run(store.open())
    witness = Witness(WITNESSES[0], trusted_logs([LOG.vkey()]), store, clock=lambda: 1_700_000_000)
    app = create_witness_app(witness)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://witness")
    yield client
    runner.run(client.aclose())
    runner.run(store.close())


@R14
@given(mutated_bytes([b.decode() for b in BODIES]) | st.binary(max_size=300))
def test_the_witness_route(
    runner: asyncio.Runner, witness_http: httpx.AsyncClient, body: bytes
) -> None:
    answer = runner.run(witness_http.post("/add-checkpoint", content=body))
    assert answer.status_code in (200, 400, 403, 404, 409, 422), (
        answer.status_code,
        answer.text[:200],
    )


# --- the regressions of issue 24, by name -------------------------------------------------------


@pytest.mark.parametrize("digits", [21, 5000])
def test_long_numbers_are_refused_by_name(
    runner: asyncio.Runner,
    public_log: httpx.AsyncClient,
    witness_http: httpx.AsyncClient,
    digits: int,
) -> None:
    number = "9" * digits
    note = NOTES[2].replace("\n300\n", f"\n{number}\n", 1)
    with pytest.raises(CheckpointError, match=f"tree size has {digits:,} digits"):
        parse_checkpoint(note)
    with pytest.raises(Refusal, match=f"old size has {digits:,} digits"):
        parse_submission(f"old {number}\n\n{NOTES[2]}".encode())
    answer = runner.run(witness_http.post("/add-checkpoint", content=f"old {number}\n\n{NOTES[2]}"))
    assert answer.status_code == 400
    tile = "x999/" * (digits // 3) + "999"
    answer = runner.run(public_log.get(f"/public/log/tile/0/{tile}"))
    assert answer.status_code == 404 and "at most 20 digits" in answer.json()["detail"]
    with pytest.raises(ProofError, match="more than 20 digits"):
        parse_consistency_answer({**ANSWERS[0], "from": 10**digits - 1}, 10, 300)
    answer = runner.run(public_log.get(f"/public/log/tile/0/{'x000/' * 6}001"))
    assert answer.status_code == 404


def test_twenty_digits_still_parse() -> None:
    assert parse_submission(f"old {'9' * 20}\n\n{NOTES[2]}".encode()).old_size == 10**20 - 1
    note = NOTES[2].replace("\n300\n", f"\n{'9' * 20}\n", 1)
    assert parse_checkpoint(note).size == 10**20 - 1
    assert base64.b64decode(note.split("\n")[2])  # the root is untouched
