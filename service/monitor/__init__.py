"""`docket monitor`, a program of its own: follow a Docket's published checkpoint
and catch a rollback or a fork. Imports `events/` (and `service.platform`),
never the API.
"""
