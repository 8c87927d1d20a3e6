"""The HTTP API (SPEC §6): command and read routes, the public routes, auth,
problems, middleware, read positions.
"""
