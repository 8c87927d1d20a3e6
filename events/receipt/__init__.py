"""Receipts (SPEC §6.2): building one from proved events, and verifying one offline.

A receipt holds the disclosed forms of a request's public events (SPEC §4), each with
its leaf index and its RFC 9162 inclusion proof against the tree of a checkpoint the log
signed and its witnesses cosigned, and the events that checkpoint does not cover yet
(`pending`). Verifying needs no network and no database: the verifier's own trust in
the log key, the witness keys and the quorum (never the keys the receipt names).

A receipt also carries the log's signed `statement` (`events.statement`): the positions
of every public event of the request up to the checkpoint's size. The proved events must
be exactly those: a receipt with an event left out (an amendment, say) is refused, not
shown as the record without it. `pending` events are shown as not yet verified, never as
proven (`ReceiptCheck.exit_code`: 0 all shown proved, 2 some pending, 1 a failure).

The modules, each imported by name (this package re-exports nothing):

- `build`: `build_receipt` from `ProvedEvent`s and the `Witness`es it names.
- `cosignatures`: witness keys (`parse_witness_key`, `COSIGNATURE_V1`) and the check of
  their cosignatures a receipt needs (`verify_cosignatures`, a `Cosigners`).
- `check`: what a verification found, `ReceiptCheck`, each fault a `Failure`.
- `verify`: `verify_receipt`, the whole receipt: its shape, keys, checkpoint signature,
  quorum and the log's statement.
- `proofs`: each event it shows: its disclosed form, its inclusion proof and its
  tlog-proof against the checkpoint.
- `summary`: the outcome in a bank clerk's words (`summary`, `checkpoint_line`).
"""
