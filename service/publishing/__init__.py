"""The log going out: each signed checkpoint to the witnesses (cosigning), their
metrics, and the tlog endpoints of the public log (checkpoint, hash tiles).
"""
