"""Path parameters the routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# Triton's model names are directory names (at most 255 bytes); a 10,000-character name once went
# all the way to gRPC and failed there (metadata size) as a bare 500.
ModelName = Annotated[str, Path(min_length=1, max_length=255, description="the model's name in Triton")]


def unicode_text(value: str) -> str:
    """JSON can carry lone surrogates (``"\\ud800"``) that are not text: a tokenizer or a store
    would fail on them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode text (a lone surrogate at position {exc.start})") from exc
    return value
