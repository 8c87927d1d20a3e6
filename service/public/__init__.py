"""Public outputs as pure rendering (SPEC §6–7): feeds, pages, SVG, validators,
the report's formats, and `PublicSource`, the read port they render from. The
routes that serve them are in `service.api.public`.
"""
