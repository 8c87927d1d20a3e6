"""The PostgreSQL backend's statements (raw asyncpg: prepared once per connection, no row
processing), and the one-round-trip append function of the writer's session."""

from __future__ import annotations

from events.model import ZERO_HASH

#: The key of the PostgreSQL advisory lock that serialises appends ("docket" in ASCII).
APPEND_LOCK_KEY = 0x646F636B6574

#: `RawRow`'s `data`: the clear fields of `events` and the sealed ones of `sealed_values`,
#: two JSON objects of disjoint keys as the writer stored them (no space around), joined
#: as text.
MERGED_DATA = (
    "CASE WHEN s.data IS NULL OR s.data::text = '{}' THEN e.data::text"
    " WHEN e.data::text = '{}' THEN s.data::text"
    " ELSE left(e.data::text, -1) || ',' || substr(s.data::text, 2) END"
)
COLUMNS = (
    "e.position, e.event_id, e.stream_id, e.stream_version, e.event_type, e.schema_version,"
    f" {MERGED_DATA}, s.metadata::text, e.occurred_at, e.recorded_at, e.prev_hash, e.hash,"
    " s.salt, e.sealed"
)
#: `FoldRow`'s columns: what a fold reads of an event (no id, hashes, salt or digest; no
#: metadata or `recorded_at`, sent as NULL so that the row keeps `RawRow`'s order).
FOLD_COLUMNS = (
    "e.position, e.stream_id, e.stream_version, e.event_type, e.schema_version,"
    f" {MERGED_DATA}, NULL, e.occurred_at, NULL"
)
#: The log as readers see it: every event with its sealed values (or their markers).
JOINED = "events e JOIN sealed_values s ON s.position = e.position"
LOCK = f"BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY})"
# What the writer needs under the lock, in one round trip: the head, the current version
# of each stream of the batch (one index probe each), and which event ids already exist.
BATCH_STATE = (
    "SELECT (SELECT position FROM events ORDER BY position DESC LIMIT 1),"
    " (SELECT hash FROM events ORDER BY position DESC LIMIT 1),"
    " ARRAY(SELECT coalesce((SELECT max(e.stream_version) FROM events e"
    " WHERE e.stream_id = s.id), 0) FROM unnest($1::text[]) WITH ORDINALITY AS s(id, n)"
    " ORDER BY s.n),"
    " ARRAY(SELECT position FROM events WHERE event_id = ANY($2::text[]))"
)
#: A batch's rows into both tables, one statement: 15 arrays (position, event_id,
#: stream_id, stream_version, event_type, schema_version, clear data, sealed data,
#: metadata, occurred_at, recorded_at, prev_hash, hash, salt, sealed digest).
INSERT = (
    "WITH e AS (INSERT INTO events (position, event_id, stream_id, stream_version,"
    " event_type, schema_version, data, occurred_at, recorded_at, prev_hash, hash, sealed)"
    " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[],"
    " $6::int[], $7::json[], $10::timestamptz[], $11::timestamptz[], $12::text[],"
    " $13::text[], $15::text[]))"
    " INSERT INTO sealed_values (position, data, metadata, salt)"
    " SELECT * FROM unnest($1::bigint[], $8::json[], $9::json[], $14::text[])"
)
#: Which of the positions an erasure names are in the log, their types and sealed
#: fields, and whether they are erased.
ERASABLE = (
    "SELECT s.position, s.data::text, s.erased_by, e.event_type, e.schema_version"
    " FROM sealed_values s JOIN events e ON e.position = s.position"
    " WHERE s.position = ANY($1::bigint[])"
)
#: Erasure (SPEC §4): the values replaced by markers, the salts dropped (the trigger of
#: migration 0012 lets this through only as the log's `ErasureRecorded` says).
ERASE = (
    "UPDATE sealed_values s SET data = u.d, metadata = u.m, salt = NULL, erased_by = u.by"
    " FROM unnest($1::bigint[], $2::json[], $3::json[], $4::bigint[]) AS u(p, d, m, by)"
    " WHERE s.position = u.p"
)
HEAD = "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
STREAM_VERSION = "SELECT max(stream_version) FROM events WHERE stream_id = $1"
BY_IDS = f"SELECT {COLUMNS} FROM {JOINED} WHERE e.event_id = ANY($1::text[]) ORDER BY e.position"
# the range is on both sides of the join, so that a page can be read by merging the two
# position indexes (`postgres.PAGE_READS`) instead of probing one for each event
PAGE = (
    f"SELECT {COLUMNS} FROM {JOINED} WHERE e.position > $1 AND s.position > $1"
    " ORDER BY e.position LIMIT $2"
)
# one worker's share of a rebuild (`events.store.contract.Partition`); the mask makes
# hashtext's int4 non-negative
PARTITION_PAGE = (
    f"SELECT {FOLD_COLUMNS} FROM {JOINED} WHERE e.position > $1 AND e.position <= $3"
    " AND s.position > $1 AND s.position <= $3"
    " AND starts_with(e.stream_id, $4) AND (hashtext(e.stream_id) & 2147483647) % $5 = $6"
    " ORDER BY e.position LIMIT $2"
)
STREAMS = (
    f"SELECT {COLUMNS} FROM {JOINED}"
    " JOIN unnest($1::text[], $2::bigint[]) AS w(id, v)"
    " ON e.stream_id = w.id AND e.stream_version >= w.v"
    " ORDER BY e.stream_id, e.stream_version"
)


# The one-round-trip append: the writer predicts the head (what it last wrote) and each
# stream's version (what the batch's calls expect), validates and hashes the batch on that
# prediction, and sends it to this function of its session. Under the advisory lock (each
# statement of a PL/pgSQL function sees what was committed before it), the function
# inserts only if the prediction holds, and otherwise answers the real state without
# writing; the statement's implicit transaction commits at its end.
APPEND_FUNCTION = f"""
CREATE OR REPLACE FUNCTION pg_temp.docket_append(
    head_position bigint, head_hash text, stream_ids text[], stream_versions bigint[],
    event_ids text[], p bigint[], eid text[], sid text[], sv bigint[], et text[],
    schv int[], d json[], sd json[], m json[], oc timestamptz[], rc timestamptz[], ph text[],
    h text[], salts text[], seals text[]
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    last_position bigint;
    last_hash text;
    versions bigint[];
    present boolean;
BEGIN
    PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});
    SELECT position, hash INTO last_position, last_hash
        FROM events ORDER BY position DESC LIMIT 1;
    last_position := coalesce(last_position, 0);
    last_hash := coalesce(last_hash, '{ZERO_HASH}');
    versions := ARRAY(
        SELECT coalesce((SELECT max(e.stream_version) FROM events e WHERE e.stream_id = s.id), 0)
        FROM unnest(stream_ids) WITH ORDINALITY AS s(id, n) ORDER BY s.n);
    present := EXISTS (SELECT 1 FROM events WHERE event_id = ANY(event_ids));
    IF last_position <> head_position OR last_hash <> head_hash
            OR versions IS DISTINCT FROM stream_versions OR present THEN
        RETURN json_build_object('position', last_position, 'hash', last_hash,
                                 'versions', versions, 'present', present)::text;
    END IF;
    INSERT INTO events (position, event_id, stream_id, stream_version, event_type,
                        schema_version, data, occurred_at, recorded_at, prev_hash, hash,
                        sealed)
        SELECT * FROM unnest(p, eid, sid, sv, et, schv, d, oc, rc, ph, h, seals);
    INSERT INTO sealed_values (position, data, metadata, salt)
        SELECT * FROM unnest(p, sd, m, salts);
    RETURN NULL;
END
$fn$
"""
APPEND_CALL = (
    "SELECT pg_temp.docket_append($1::bigint, $2::text, $3::text[], $4::bigint[],"
    " $5::text[], $6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::int[],"
    " $12::json[], $13::json[], $14::json[], $15::timestamptz[], $16::timestamptz[],"
    " $17::text[], $18::text[], $19::text[], $20::text[])"
)


def _read_stream(to_position: bool, occurred_until: bool) -> str:
    query = f"SELECT {COLUMNS} FROM {JOINED} WHERE e.stream_id = $1 AND e.stream_version >= $2"
    n = 2
    if to_position:
        n += 1
        query += f" AND e.position <= ${n}"
    if occurred_until:
        n += 1
        query += f" AND e.occurred_at <= ${n}"
    return query + " ORDER BY e.stream_version"


READ_STREAM = {(p, o): _read_stream(p, o) for p in (False, True) for o in (False, True)}


#: The chain walk's rows (`events.store.rows.ChainRow`: the clear data of `events` at 6,
#: salt at 12, sealed at 13, `erased_by` at 14, the sealed data at 15), the times as the
#: canonical `utc_text` form made by PostgreSQL (`to_char` in UTC; four-digit years), and
#: a last column (16) saying whether data or metadata may hold a float: the hashed fields
#: without `datetime`s or events. The sealed values are left joined, so that a walk names
#: an event whose row of them is gone.
UTC_TEXT = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
HASHED = (
    "SELECT e.position, e.event_id, e.stream_id, e.stream_version, e.event_type,"
    f" e.schema_version, e.data::text, s.metadata::text, {UTC_TEXT.format('e.occurred_at')},"
    f" {UTC_TEXT.format('e.recorded_at')}, e.prev_hash, e.hash, s.salt, e.sealed, s.erased_by,"
    " s.data::text,"
    # May data or metadata hold a float, or an integer orjson reads as one? Any number
    # token with a fraction or exponent, or of 19+ digits, matches (it follows : , or [);
    # strings that look alike only send the row down the full canonical path.
    " ('[' || e.data::text || ',' || coalesce(s.data::text, '{}') || ','"
    " || coalesce(s.metadata::text, '{}'))"
    " ~ '[:,\\[][[:space:]]*-?[0-9]+([.eE]|[0-9]{18})'"
    " FROM events e LEFT JOIN sealed_values s ON s.position = e.position"
    " WHERE e.position > $1 ORDER BY e.position LIMIT $2"
)
IMPORT_HEAD = "SELECT coalesce(max(position), 0) FROM events"

#: PostgreSQL advisory lock serialising writers of `merkle_nodes` and `checkpoints`.
TREE_LOCK_KEY = int.from_bytes(b"docket-t")
