"""Reads over a running Docket (`service.runtime.Runtime`): the checkpoint the
public may rely on, and the receipt of a public request proved against it.
"""
