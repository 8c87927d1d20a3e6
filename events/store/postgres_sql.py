"""The PostgreSQL backend's statements (raw asyncpg: prepared once per connection, no row
processing), and the one-round-trip append function of the writer's session."""

from __future__ import annotations

from events.model import ZERO_HASH

#: The key of the PostgreSQL advisory lock that serialises appends ("docket" in ASCII).
APPEND_LOCK_KEY = 0x646F636B6574

COLUMNS = (
    "position, event_id, stream_id, stream_version, event_type, schema_version,"
    " data::text, metadata::text, occurred_at, recorded_at, prev_hash, hash, salt"
)
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
INSERT = (
    "INSERT INTO events (position, event_id, stream_id, stream_version, event_type,"
    " schema_version, data, metadata, occurred_at, recorded_at, prev_hash, hash, salt)"
    " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[],"
    " $6::int[], $7::json[], $8::json[], $9::timestamptz[], $10::timestamptz[], $11::text[],"
    " $12::text[], $13::text[])"
)
HEAD = "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
STREAM_VERSION = "SELECT max(stream_version) FROM events WHERE stream_id = $1"
BY_IDS = f"SELECT {COLUMNS} FROM events WHERE event_id = ANY($1::text[]) ORDER BY position"
PAGE = f"SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
# one worker's share of a rebuild (`events.store.contract.Partition`); the mask makes
# hashtext's int4 non-negative
PARTITION_PAGE = (
    f"SELECT {COLUMNS} FROM events WHERE position > $1 AND position <= $3"
    " AND starts_with(stream_id, $4) AND (hashtext(stream_id) & 2147483647) % $5 = $6"
    " ORDER BY position LIMIT $2"
)
STREAMS = (
    f"SELECT {COLUMNS} FROM events e"
    " JOIN unnest($1::text[], $2::bigint[]) AS s(id, v)"
    " ON e.stream_id = s.id AND e.stream_version >= s.v"
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
    schv int[], d json[], m json[], oc timestamptz[], rc timestamptz[], ph text[], h text[],
    salts text[]
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
                        schema_version, data, metadata, occurred_at, recorded_at,
                        prev_hash, hash, salt)
        SELECT * FROM unnest(p, eid, sid, sv, et, schv, d, m, oc, rc, ph, h, salts);
    RETURN NULL;
END
$fn$
"""
APPEND_CALL = (
    "SELECT pg_temp.docket_append($1::bigint, $2::text, $3::text[], $4::bigint[],"
    " $5::text[], $6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::int[],"
    " $12::json[], $13::json[], $14::timestamptz[], $15::timestamptz[], $16::text[],"
    " $17::text[], $18::text[])"
)


def _read_stream(to_position: bool, occurred_until: bool) -> str:
    query = f"SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2"
    n = 2
    if to_position:
        n += 1
        query += f" AND position <= ${n}"
    if occurred_until:
        n += 1
        query += f" AND occurred_at <= ${n}"
    return query + " ORDER BY stream_version"


READ_STREAM = {(p, o): _read_stream(p, o) for p in (False, True) for o in (False, True)}


#: The chain walk's rows: `RawRow` order (salt at 12), the times as the canonical
#: `utc_text` form made by PostgreSQL (`to_char` in UTC; four-digit years), and a last
#: column (13) saying whether data or metadata may hold a float: the hashed fields without
#: `datetime`s or events.
UTC_TEXT = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
HASHED = (
    "SELECT position, event_id, stream_id, stream_version, event_type, schema_version,"
    f" data::text, metadata::text, {UTC_TEXT.format('occurred_at')},"
    f" {UTC_TEXT.format('recorded_at')}, prev_hash, hash, salt,"
    # May data or metadata hold a float, or an integer orjson reads as one? Any number
    # token with a fraction or exponent, or of 19+ digits, matches (it follows : , or [);
    # strings that look alike only send the row down the full canonical path.
    " ('[' || data::text || ',' || metadata::text)"
    " ~ '[:,\\[][[:space:]]*-?[0-9]+([.eE]|[0-9]{18})'"
    " FROM events WHERE position > $1 ORDER BY position LIMIT $2"
)
IMPORT_HEAD = "SELECT coalesce(max(position), 0) FROM events"

#: PostgreSQL advisory lock serialising writers of `merkle_nodes` and `checkpoints`.
TREE_LOCK_KEY = int.from_bytes(b"docket-t")
