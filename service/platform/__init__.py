"""What every program of Docket stands on: settings, logging, metrics, the garbage
collector's settling, tokens, database set-up and migrations, the signing key,
the moments auditors name and the event stream's frames. Imports `events/` only.
"""
