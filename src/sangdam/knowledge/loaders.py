"""Read Markdown, HTML, plain text and PDF files into structural blocks (paragraphs, list items, table rows)
that carry their heading path. Chunking (``chunking.py``) then groups blocks into passages.

Each format keeps its own structure: Markdown and HTML headings are explicit; plain text and PDF (whose text
layer has no markup) use a conservative heading heuristic (a short line without sentence-final punctuation
standing alone, or a line marked with ■/#/[...]).
"""

from __future__ import annotations

import re
from pathlib import Path

from sangdam.knowledge.models import Block

SUPPORTED_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html",
                      ".txt": "text", ".pdf": "pdf"}


class UnreadableDocument(Exception):
    """The file exists but cannot be decoded or parsed; the message says why (English, for operators)."""


def format_of(path: Path) -> str | None:
    """The loader name for ``path`` or None when the type is not supported."""
    return SUPPORTED_SUFFIXES.get(path.suffix.lower())


def load_blocks(path: Path, data: bytes) -> list[Block]:
    """Blocks of the document ``path`` whose raw bytes are ``data``."""
    fmt = format_of(path)
    if fmt == "pdf":
        return text_blocks(_pdf_text(data), title=None)
    text = _decode(data)
    if fmt == "markdown":
        return markdown_blocks(text)
    if fmt == "html":
        return html_blocks(text)
    if fmt == "text":
        return text_blocks(text, title=None)
    raise UnreadableDocument(f"unsupported type {path.suffix!r}")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):  # cp949: Korean files saved by older Windows tools
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableDocument("not valid UTF-8 or CP949 text")


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --- Markdown ----------------------------------------------------------------------------------------------

def _inline_text(token) -> str:  # noqa: ANN001 - markdown_it Token
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return _clean("".join(parts))


def markdown_blocks(text: str) -> list[Block]:
    """Blocks of a CommonMark document with GFM tables."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            title = _inline_text(tokens[i + 1])
            headings = [h for h in headings if h[0] < level] + [(level, title)]
            i += 3
            continue
        path = [h[1] for h in headings]
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            i = _markdown_list(tokens, i, path, blocks)
            continue
        if tok.type == "table_open":
            i = _markdown_table(tokens, i, path, blocks)
            continue
        if tok.type == "inline" and tok.level <= 2:  # top-level paragraph (also inside a blockquote)
            content = _inline_text(tok)
            if content:
                blocks.append(Block(kind="paragraph", text=content, headings=path))
        elif tok.type in ("fence", "code_block") and tok.content.strip():
            blocks.append(Block(kind="paragraph", text=_clean(tok.content), headings=path))
        i += 1
    return blocks


def _markdown_list(tokens, start: int, path: list[str], out: list[Block]) -> int:  # noqa: ANN001
    """One block per top-level list item (nested items are folded into their parent); returns the next index."""
    close = tokens[start].type.replace("_open", "_close")
    ordered = tokens[start].type == "ordered_list_open"
    depth, i, number = 0, start, int(tokens[start].attrGet("start") or 1) if ordered else 0
    parts: list[str] = []
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == tokens[start].type:
            depth += 1
        elif tok.type == close:
            depth -= 1
            if depth == 0:
                return i + 1
        elif tok.type == "list_item_open" and depth == 1:
            parts = []
        elif tok.type == "list_item_close" and depth == 1:
            item = " ".join(p for p in parts if p)
            if item:
                out.append(Block(kind="list_item", text=f"{number}. {item}" if ordered else item, headings=path))
            number += 1
        elif tok.type == "inline":
            parts.append(_inline_text(tok))
        i += 1
    return i


def _markdown_table(tokens, start: int, path: list[str], out: list[Block]) -> int:  # noqa: ANN001
    header: list[str] = []
    row: list[str] = []
    in_head = False
    i = start
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "tr_open":
            row = []
        elif tok.type == "inline":
            row.append(_inline_text(tok))
        elif tok.type == "tr_close":
            if in_head:
                header = row
            elif any(row):
                out.append(Block(kind="table_row", text=table_row_text(header, row), headings=path))
        elif tok.type == "table_close":
            return i + 1
        i += 1
    return i


def table_row_text(header: list[str], row: list[str]) -> str:
    """A table row that keeps its header: ``열: 값 | 열: 값``."""
    if not header:
        return " | ".join(c for c in row if c)
    cells = []
    for idx, cell in enumerate(row):
        name = header[idx] if idx < len(header) else ""
        if cell:
            cells.append(f"{name}: {cell}" if name else cell)
    return " | ".join(cells)


# --- HTML --------------------------------------------------------------------------------------------------

_HTML_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "table", "dt", "dd", "pre", "blockquote")


def html_blocks(text: str) -> list[Block]:
    """Blocks of an HTML page (script, style, nav, header and footer chrome are dropped)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "template"]):
        tag.decompose()
    body = soup.body or soup
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []
    title = _clean(soup.title.get_text()) if soup.title else ""
    if title and not body.find("h1"):
        headings = [(1, title)]
    for el in body.find_all(_HTML_BLOCKS):
        # Only the outermost structural element is read (a <p> inside an <li> belongs to the item).
        if any(parent.name in ("li", "table", "dd", "blockquote", "pre") for parent in el.parents):
            continue
        path = [h[1] for h in headings]
        if el.name[0] == "h" and el.name[1:].isdigit():
            level = int(el.name[1])
            headings = [h for h in headings if h[0] < level] + [(level, _clean(el.get_text(" ")))]
        elif el.name == "table":
            _html_table(el, path, blocks)
        elif el.name == "li":
            content = _clean(el.get_text(" "))
            if content:
                ordered = el.parent is not None and el.parent.name == "ol"
                if ordered:
                    content = f"{len(el.find_previous_siblings('li')) + 1}. {content}"
                blocks.append(Block(kind="list_item", text=content, headings=path))
        else:
            content = _clean(el.get_text(" "))
            if content:
                blocks.append(Block(kind="paragraph", text=content, headings=path))
    return blocks


def _html_table(table, path: list[str], out: list[Block]) -> None:  # noqa: ANN001 - bs4 Tag
    """Table rows with their header. Merged cells (rowspan/colspan) are expanded into a grid first, so a
    second header row is read as header, not data, and every cell keeps its own column's label; the leading
    all-``th`` rows form the header, joined per column ("기본 제공 / 데이터")."""
    header_rows: list[list[str]] = []
    in_header = True
    for is_header, values in _html_grid(table):
        if in_header and is_header:
            header_rows.append(values)
            continue
        in_header = False
        if any(values):
            out.append(Block(kind="table_row", text=table_row_text(_joined_header(header_rows), values),
                             headings=path))


def _html_grid(table) -> list[tuple[bool, list[str]]]:  # noqa: ANN001 - bs4 Tag
    """The table as (all cells are ``th``, cell texts) rows with rowspan/colspan expanded into every slot."""
    rows: list[tuple[bool, list[str]]] = []
    pending: dict[int, tuple[int, str, bool]] = {}  # column -> (rows still covered, text, is th)
    for tr in table.find_all("tr"):
        cells = tr.find_all(["th", "td"])
        values: list[str] = []
        kinds: list[bool] = []
        col = 0
        queue = list(cells)
        while queue or col in pending:
            if col in pending:
                left, text, is_th = pending[col]
                values.append(text)
                kinds.append(is_th)
                pending[col] = (left - 1, text, is_th)
                if left - 1 <= 0:
                    del pending[col]
                col += 1
                continue
            cell = queue.pop(0)
            text = _clean(cell.get_text(" "))
            span, down = _span(cell, "colspan"), _span(cell, "rowspan")
            for _ in range(span):
                values.append(text)
                kinds.append(cell.name == "th")
                if down > 1:
                    pending[col] = (down - 1, text, cell.name == "th")
                col += 1
        if values:
            rows.append((all(kinds), values))
    return rows


def _span(cell, attr: str) -> int:  # noqa: ANN001 - bs4 Tag
    try:
        return max(1, min(int(str(cell.get(attr, 1)).strip() or 1), 50))
    except ValueError:
        return 1


def _joined_header(rows: list[list[str]]) -> list[str]:
    """One label per column from stacked header rows: distinct texts top to bottom, joined by " / "."""
    width = max((len(r) for r in rows), default=0)
    header: list[str] = []
    for col in range(width):
        parts: list[str] = []
        for row in rows:
            text = row[col] if col < len(row) else ""
            if text and text not in parts:
                parts.append(text)
        header.append(" / ".join(parts))
    return header


# --- plain text and PDF ------------------------------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-•·*○▪◦]|\d{1,2}[.)]|[①-⑳])\s+")
_MARKED_HEADING = re.compile(r"^\s*(?:#{1,6}\s+|■\s*|\[(?=.+\]\s*$))")
_SENTENCE_END = re.compile(r"[.!?。…:]$|[다요죠니까]\.?$")


def _heading_level(line: str) -> int | None:
    """Heading level for a line of plain text, or None when it is body text."""
    stripped = line.strip()
    if m := re.match(r"^(#{1,6})\s+", stripped):
        return len(m.group(1))
    if stripped.startswith("■"):
        return 2
    if stripped.startswith("[") and stripped.endswith("]") and len(stripped) <= 60:
        return 2
    if re.match(r"^제\s?\d+\s?[조장]", stripped) and len(stripped) <= 40:  # 약관 articles: 제3조(...)
        return 2
    return None


def text_blocks(text: str, title: str | None) -> list[Block]:
    """Blocks of plain text: blank lines separate paragraphs; bullet lines are list items; the first short
    line is the document title; marked lines (#, ■, [..], 제N조) and short standalone lines are headings."""
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = [(1, title)] if title else []
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    for para in paragraphs:
        lines = [ln for ln in para.split("\n") if ln.strip()]
        if not lines:
            continue
        buffer: list[str] = []
        kind = "paragraph"

        def flush() -> None:
            nonlocal buffer, kind
            if buffer:
                blocks.append(Block(kind=kind, text=_clean(" ".join(buffer)), headings=[h[1] for h in headings]))
            buffer, kind = [], "paragraph"

        for line in lines:
            level = _heading_level(line)
            if level is None and not blocks and not headings and not buffer and _title_like(line):
                level = 1  # the document's first short line is its title (PDF text has no blank lines)
            if level is None and len(lines) == 1 and _title_like(line):
                level = 1 if not headings else 2
            if level is not None:
                flush()
                name = re.sub(r"^\s*(?:#{1,6}\s+|■\s*)", "", line).strip().strip("[]").strip()
                headings = [h for h in headings if h[0] < level] + [(level, name)]
                continue
            if _BULLET.match(line):
                flush()
                kind = "list_item"
                buffer = [line.strip()]
                continue
            if kind == "list_item":  # a wrapped (PDF) or indented (text) continuation of the item
                buffer.append(line.strip())
                continue
            buffer.append(line.strip())
        flush()
    return blocks


def _title_like(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) <= 40 and not _SENTENCE_END.search(stripped) and not _BULLET.match(stripped)


def _pdf_text(data: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise UnreadableDocument(f"PDF could not be read ({exc.__class__.__name__}: {exc})") from exc
    return "\n\n".join(pages)
