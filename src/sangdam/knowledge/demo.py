"""The demo knowledge base of 누리텔레콤: stage the documents, render the PDF ones, ingest into KB ``default``.

Documents live in ``resources/kb/documents/``. Sources under ``resources/kb/pdf_sources/`` are rendered to PDF
(fpdf2 + the NanumGothic TTF from Debian's ``fonts-nanum``) at build time, so the PDF loader is exercised on a
real PDF that is never committed. Everything is staged in ``SANGDAM_HOME/build/demo-kb/``; files are rewritten
only when their source changed, so a second build re-ingests nothing and takes about a second.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from sangdam.knowledge.messages import RESOURCES
from sangdam.knowledge.store import KnowledgeBaseError, Progress, ingest_directory
from sangdam.knowledge.models import IngestReport

DOCUMENTS = RESOURCES / "kb" / "documents"
PDF_SOURCES = RESOURCES / "kb" / "pdf_sources"
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf"),
    Path("/usr/share/fonts/nanum/NanumGothic.ttf"),
)
_STAMP = ".pdf-sources.json"  # hidden: ingestion ignores dot-files


def demo_dir() -> Path:
    """Where the demo documents are staged: ``SANGDAM_HOME/build/demo-kb``."""
    from sangdam.config import get_settings

    return get_settings().resolved_home / "build" / "demo-kb"


def korean_font() -> Path:
    """A Korean TTF font for PDF rendering (NanumGothic), or a clear error naming the Debian package."""
    for candidate in FONT_CANDIDATES:
        if candidate.exists():
            return candidate
    try:
        found = subprocess.run(["fc-match", "-f", "%{file}", "NanumGothic:lang=ko"], capture_output=True,
                               text=True, check=False, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        found = ""
    if found and "nanum" in found.lower() and Path(found).exists():
        return Path(found)
    raise KnowledgeBaseError("NanumGothic font not found: install the Debian package fonts-nanum "
                             "(scripts/system-deps.sh does)")


def render_pdf(source: Path, target: Path, font: Path) -> None:
    """Render a small Markdown-like source (``#`` headings, ``-`` items, paragraphs) to a PDF."""
    import logging

    from fpdf import FPDF

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # subsetting chatter about unused TrueType tables
    pdf = FPDF(format="A4")
    pdf.set_creation_date(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))  # same bytes for the same source
    pdf.add_font("Nanum", "", str(font))
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for raw in source.read_text(encoding="utf-8").split("\n\n"):
        para = " ".join(line.strip() for line in raw.strip().split("\n"))
        if not para:
            continue
        if para.startswith("#"):
            level = len(para) - len(para.lstrip("#"))
            pdf.set_font("Nanum", size=16 if level == 1 else 12.5)
            pdf.ln(3)
            text = para.lstrip("#").strip()
            # The text layer has no markup: level-2 headings carry a ■ marker the text loader recognises.
            pdf.multi_cell(width, 8, text if level == 1 else f"■ {text}")
            pdf.ln(2)
            continue
        pdf.set_font("Nanum", size=10.5)
        for item in (raw.strip().split("\n- ") if raw.strip().startswith("- ") else [para]):
            item = " ".join(line.strip() for line in item.split("\n")).removeprefix("- ").strip()
            pdf.multi_cell(width, 6, f"- {item}" if raw.strip().startswith("- ") else item)
        pdf.ln(3)
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(target))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stage_demo_documents(dest: Path | None = None) -> Path:
    """Copy the demo documents and render the PDFs into ``dest`` (default ``demo_dir()``), only what changed."""
    dest = dest or demo_dir()
    dest.mkdir(parents=True, exist_ok=True)
    wanted: set[str] = set()
    for src in sorted(p for p in DOCUMENTS.rglob("*") if p.is_file()):
        rel = src.relative_to(DOCUMENTS).as_posix()
        wanted.add(rel)
        out = dest / rel
        if not out.exists() or out.read_bytes() != src.read_bytes():
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out)
    stamp_file = dest / _STAMP
    stamps: dict[str, str] = json.loads(stamp_file.read_text()) if stamp_file.exists() else {}
    font = None
    for src in sorted(PDF_SOURCES.rglob("*.md")):
        rel = src.relative_to(PDF_SOURCES).with_suffix(".pdf").as_posix()
        wanted.add(rel)
        digest = _sha(src)
        if stamps.get(rel) != digest or not (dest / rel).exists():
            font = font or korean_font()
            render_pdf(src, dest / rel, font)
            stamps[rel] = digest
    stamp_file.write_text(json.dumps({k: v for k, v in stamps.items() if k in wanted}, indent=1))
    for stale in [p for p in dest.rglob("*") if p.is_file() and not p.name.startswith(".")]:
        if stale.relative_to(dest).as_posix() not in wanted:
            stale.unlink()
    return dest


def build_demo(kb: str = "default", on_progress: Progress | None = None) -> IngestReport:
    """Stage the demo documents (rendering PDFs) and ingest them into ``kb``."""
    return ingest_directory(stage_demo_documents(), kb, on_progress=on_progress)
