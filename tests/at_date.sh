#!/usr/bin/env bash
# Runs a command with the clock of its whole process tree moved to another day (R13):
#   tests/at_date.sh 2029-02-28 .venv/bin/pytest -q
# libfaketime (Debian's `faketime`) with a relative offset of whole days, so the clock keeps
# running, every process started under it (servers, CLI runs, PostgreSQL standbys,
# Chromium) sees the same time, and the time of day is today's.
set -euo pipefail
day="$1"; shift
command -v faketime >/dev/null || { echo "faketime is not installed (make faketime)" >&2; exit 2; }
today=$(date -u +%Y-%m-%d)
days=$(( ( $(date -u -d "$day" +%s) - $(date -u -d "$today" +%s) ) / 86400 ))
echo "== $(date -u +%H:%M:%S) moving the clock ${days} days, to ${day} (libfaketime): $*" >&2
exec faketime -f "+${days}d" "$@"
