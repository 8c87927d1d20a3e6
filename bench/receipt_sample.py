"""Receipts to verify: a small log in memory, v2 leaves, a signed and cosigned checkpoint.

Used by B11 and by the receipt tests (command line, independent verifier, browser), so
that all of them check the same receipts the pure core builds.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey

from events.checkpoints import Signer, parse_checkpoint
from events.disclosure import disclosed_form, leaf_hash_v2, new_salt
from events.merkle import MerkleBuilder, inclusion_proof, node_source
from events.mldsa import ML_DSA_44, mldsa_key_id, sign_blob
from events.model import utc_text
from events.receipt.build import ProvedEvent, Witness, build_receipt
from events.receipt.cosignatures import COSIGNATURE_V1, witness_key_id
from events.statement import Statement, sign_statement

ORIGIN = "docket.example/1718"
REQUEST_ID = "HX-2026-0042"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
COSIGNED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass
class WitnessSigner:
    """A test witness: signs `cosignature/v1` lines (C2SP tlog-cosignature), or ML-DSA-44
    ones (type 0x06) with an ML-DSA-44 key."""

    name: str
    key: Ed25519PrivateKey | MLDSA44PrivateKey

    @property
    def raw(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> bytes:
        if isinstance(self.key, MLDSA44PrivateKey):
            return mldsa_key_id(self.name, self.raw)
        return witness_key_id(self.name, self.raw)

    @property
    def vkey(self) -> str:
        kind = ML_DSA_44 if isinstance(self.key, MLDSA44PrivateKey) else COSIGNATURE_V1
        encoded = base64.b64encode(bytes([kind]) + self.raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def cosign(self, note: str, timestamp: int) -> str:
        """`note` with this witness's cosignature line appended."""
        if isinstance(self.key, MLDSA44PrivateKey):
            cp = parse_checkpoint(note)
            signed = sign_blob(
                self.key, self.name, timestamp, cp.origin, cp.size, cp.root, ValueError
            )
            encoded = base64.b64encode(self.key_id + signed).decode()
            return f"{note}\u2014 {self.name} {encoded}\n"
        text = note[: note.rfind("\n\n") + 1]
        message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
        blob = witness_key_id(self.name, self.raw) + timestamp.to_bytes(8, "big")
        blob += self.key.sign(message)
        return f"{note}\u2014 {self.name} {base64.b64encode(blob).decode()}\n"


@dataclass
class Sample:
    receipt: dict[str, Any]
    log_key: str
    witnesses: list[WitnessSigner]
    quorum: int


def _request_events(count: int) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "RequestSubmitted",
            {
                "request_id": REQUEST_ID,
                "applicant": {"name": "Medical Relief \u00c9quipe", "kind": "ngo"},
                "channel": "direct",
                "title": "Tuberculosis diagnostics",
                "purpose": "SEALED purpose",
                "beneficiaries": "SEALED beneficiaries",
                "items": [
                    {
                        "description": "GeneXpert cartridges",
                        "hs_code": "3822.19",
                        "quantity": 4000,
                        "unit": "cartridge",
                        "value_usd": 39980.5,
                    }
                ],
                "urgent": False,
                "requested_validity_months": 6,
                "disclosure": "public",
            },
        ),
        ("RequestCirculated", {"procedure": "initial", "deadline": "SEALED", "expedited": False}),
        (
            "ExemptionApproved",
            {
                "procedure": "initial",
                "valid_from": "2026-12-01",
                "valid_until": "2027-05-31",
                "letter_ref": "S/AC.49/2026/OC.42",
                "shipments_allowed": 12,
            },
        ),
    ]
    n = 0
    while len(events) < count:
        n += 1
        shipped = (START + timedelta(days=30 + n)).date().isoformat()
        events.append(
            ("ShipmentRecorded", {"shipment_no": n, "shipped_on": shipped, "note": "SEALED"})
        )
    return events[:count]


def sample(
    events: int = 10,
    *,
    witnesses: int = 3,
    quorum: int = 2,
    cosigned_by: int | None = None,
    pending: int = 0,
    other_entries: int = 1000,
    mldsa: bool = False,
) -> Sample:
    """A receipt of `events` events of one request, among `other_entries` other entries,
    the last `pending` of them after the checkpoint. With `mldsa`, the log also signs
    with an ML-DSA-44 key and every other witness (the 2nd, 4th...) is ML-DSA-44."""
    signer = Signer(
        ORIGIN, Ed25519PrivateKey.generate(), MLDSA44PrivateKey.generate() if mldsa else None
    )
    signers = [
        WitnessSigner(
            f"witness-{i + 1}.example",
            MLDSA44PrivateKey.generate() if mldsa and i % 2 else Ed25519PrivateKey.generate(),
        )
        for i in range(witnesses)
    ]
    ours = _request_events(events)
    spacing = max(other_entries // max(events, 1), 1)
    builder = MerkleBuilder()
    nodes: dict[tuple[int, int], bytes] = {}
    disclosed: list[dict[str, Any]] = []
    position = 0
    for version, (event_type, data) in enumerate(ours, start=1):
        for _ in range(spacing):
            # Other entries of the log: only their leaf hashes matter to the proofs.
            position += 1
            filler = hashlib.sha256(b"other entry" + position.to_bytes(8, "big")).digest()
            for level, index, digest in builder.append(filler):
                nodes[(level, index)] = digest
        position += 1
        moment = START + timedelta(days=version, minutes=position)
        whole = {
            "position": position,
            "event_id": str(uuid.uuid4()),
            "stream_id": f"request-{REQUEST_ID}",
            "stream_version": version,
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": utc_text(moment),
            "recorded_at": utc_text(moment + timedelta(seconds=1)),
            "data": data,
            "metadata": {"actor": {"id": "tok-1", "name": "Secretary", "role": "secretariat"}},
            "salt": new_salt(),
        }
        for level, index, digest in builder.append(leaf_hash_v2(whole)):
            nodes[(level, index)] = digest
        disclosed.append(disclosed_form(whole))
    covered = disclosed[: len(disclosed) - pending]
    size = covered[-1]["position"] if covered else 0
    if pending:
        size = disclosed[len(disclosed) - pending]["position"] - 1
    # The checkpoint covers the tree up to `size`; prove against that tree's nodes.
    tree = MerkleBuilder()
    tree_nodes: dict[tuple[int, int], bytes] = {}
    for index in range(size):
        for level, idx, digest in tree.append(nodes[(0, index)]):
            tree_nodes[(level, idx)] = digest
    note = signer.sign_checkpoint(ORIGIN, size, tree.root())
    stamp = int(COSIGNED_AT.timestamp())
    for witness in signers[: witnesses if cosigned_by is None else cosigned_by]:
        note = witness.cosign(note, stamp)
    get_node = node_source(tree_nodes)
    receipt = build_receipt(
        request_id=REQUEST_ID,
        origin=ORIGIN,
        log_key=signer.verifier_key(),
        witnesses=[Witness(w.name, w.vkey) for w in signers],
        quorum=quorum,
        checkpoint=note,
        statement=sign_statement(
            signer, Statement(ORIGIN, REQUEST_ID, size, tuple(d["position"] for d in covered))
        ),
        proved=[
            ProvedEvent(d, inclusion_proof(d["position"] - 1, size, get_node)) for d in covered
        ],
        pending=disclosed[len(disclosed) - pending :] if pending else [],
    )
    return Sample(receipt, signer.verifier_key(), signers, quorum)
