"""The bitemporal projection as one package: a request's status and holds as
intervals in business time and log position (`steps`, `rows`), their tables,
and the reads and statistics as of a moment (`queries`, `stats`, `middles`).
"""
