"""The read port: reads as typed functions on a `ReadConnection` (`events.read_engine`,
from `Runtime.read_engine`: a replica when one is configured), one module per concern
(requests, holds, reads as of a moment, the read side's position); and the reads over a
running Docket (`service.runtime.Runtime`): the checkpoint the public may rely on, and the
receipt of a public request proved against it. The API's handlers hold no SQL.
"""
