"""Text types of request bodies: a JSON string may carry a lone UTF-16 surrogate (``"\\ud800"``), which Python
decodes into a ``str`` that no database or response can encode. Every text field of a body is declared with
:data:`CleanText`, so such a request is a 422 ``invalid_request`` before anything is stored (it was a 500, and the
connection dropped after it)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_SURROGATE = re.compile("[\ud800-\udfff]")


def no_lone_surrogates(value: str) -> str:
    """``value`` unchanged, or a validation error naming the problem (never the text)."""
    if _SURROGATE.search(value):
        raise ValueError("text contains a lone UTF-16 surrogate (not valid Unicode)")
    return value


CleanText = Annotated[str, AfterValidator(no_lone_surrogates)]
