"""Group structural blocks into retrievable chunks.

Rules (why): a table row is its own chunk, with its header, because questions target one row ("5G 슬림 요금");
consecutive paragraphs and list items under the same heading are merged up to ``target_chars`` so a chunk holds
one idea with its context; a chunk never crosses a heading; an over-long block is split at sentence boundaries.
"""

from __future__ import annotations

import hashlib

from sangdam.knowledge.models import Block, Chunk

TARGET_CHARS = 360
MAX_CHARS = 700


def chunk_blocks(source: str, blocks: list[Block], *, target_chars: int = TARGET_CHARS,
                 max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Chunks of one document (``source`` is its path relative to the ingested directory)."""
    pieces: list[tuple[str, list[str], str]] = []  # (kind, headings, text)
    for block in blocks:
        if len(block.text) > max_chars:
            pieces.extend((block.kind, block.headings, part) for part in _split_long(block.text, target_chars))
        else:
            pieces.append((block.kind, block.headings, block.text))

    groups: list[tuple[str, list[str], list[str]]] = []
    for kind, headings, text in pieces:
        last = groups[-1] if groups else None
        mergeable = (
            last is not None
            and kind != "table_row"
            and last[0] != "table_row"
            and last[1] == headings
            and sum(len(t) for t in last[2]) + len(text) <= target_chars
        )
        if mergeable:
            last[2].append(text)
            if last[0] != kind:
                groups[-1] = ("mixed", last[1], last[2])
        else:
            groups.append((kind, headings, [text]))

    chunks: list[Chunk] = []
    for ordinal, (kind, headings, texts) in enumerate(groups):
        heading = " > ".join(h for h in headings if h)
        text = "\n".join(texts)
        digest = hashlib.sha1(f"{source}\x00{ordinal}\x00{heading}\x00{text}".encode()).hexdigest()[:16]
        chunks.append(Chunk(id=digest, source=source, heading=heading, text=text, ordinal=ordinal, kind=kind))
    return chunks


def _split_long(text: str, target_chars: int) -> list[str]:
    """Split an over-long block at sentence boundaries into parts of about ``target_chars``."""
    from sangdam.korean.analyzer import split_sentences

    parts: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        if current and len(current) + len(sentence) + 1 > target_chars:
            parts.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        parts.append(current)
    return parts
