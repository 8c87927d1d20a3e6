"""Text fit for XML 1.0: the code points XML may not carry, replaced.

XML 1.0 (§2.2, `Char`) allows tab, newline, carriage return, U+0020-U+D7FF,
U+E000-U+FFFD and U+10000-U+10FFFF. Anything else (C0 controls, lone surrogates, the
noncharacters U+FFFE and U+FFFF) makes a document ill-formed for every parser, so one bad
title would break a feed for every reader. Input validation keeps most of them out of the
log; this keeps them out of every XML output whatever the log holds (imports included).
"""

from __future__ import annotations

import re

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
REPLACEMENT = "\ufffd"


def xml_safe(text: str) -> str:
    """`text` with every code point XML 1.0 cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub(REPLACEMENT, text)
