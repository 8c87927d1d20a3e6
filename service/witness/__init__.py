"""A C2SP tlog-witness anyone can run: `docket witness key` / `docket witness serve`.

It cosigns a log's checkpoint only if it is consistent with the latest one it cosigned for
that origin, kept in its own small database (never a Docket database).
"""
