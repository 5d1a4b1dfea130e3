"""Incremental ingestion by content hash, skipped-file reasons, and the on-disk index."""

from __future__ import annotations

from pathlib import Path

import pytest

from sangdam.knowledge.retrieval import load_kb
from sangdam.knowledge.store import KnowledgeBaseError, ingest_directory, kb_path, read_chunks


def _docs(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "분실.md").write_text("# 분실 신고\n\n휴대폰을 잃어버리면 114로 분실 신고를 하세요.\n", encoding="utf-8")
    (root / "sub" / "납부.txt").write_text("요금 납부\n\n요금 납부 기한은 다음 달 25일입니다.\n", encoding="utf-8")
    (root / "계약서.docx").write_bytes(b"PK\x03\x04 not supported")
    (root / "빈파일.txt").write_text("   \n", encoding="utf-8")
    (root / ".hidden.md").write_text("# 숨김\n\n무시됩니다.\n", encoding="utf-8")
    return root


def test_first_ingest_indexes_supported_files_and_reports_skipped_ones(tmp_path: Path):
    report = ingest_directory(_docs(tmp_path / "docs"), "inc1")
    assert report.files_seen == 4  # the dot-file is ignored
    assert report.files_indexed == 2
    reasons = {s.source: s.reason for s in report.skipped}
    assert reasons == {"계약서.docx": "unsupported type (.docx)", "빈파일.txt": "empty"}
    chunks = read_chunks(kb_path("inc1"))
    assert {c.source for c in chunks} == {"분실.md", "sub/납부.txt"}
    assert report.chunks_total == report.chunks_embedded == len(chunks)


def test_reingest_skips_unchanged_files_and_drops_removed_ones(tmp_path: Path):
    docs = _docs(tmp_path / "docs")
    ingest_directory(docs, "inc2")

    again = ingest_directory(docs, "inc2")
    assert (again.files_indexed, again.files_unchanged, again.chunks_embedded) == (0, 2, 0)

    (docs / "분실.md").write_text("# 분실 신고\n\n분실 신고는 24시간 접수됩니다.\n", encoding="utf-8")
    (docs / "sub" / "납부.txt").unlink()
    changed = ingest_directory(docs, "inc2")
    assert (changed.files_indexed, changed.files_unchanged, changed.files_removed) == (1, 0, 1)
    chunks = read_chunks(kb_path("inc2"))
    assert [c.source for c in chunks] == ["분실.md"]
    assert "24시간" in chunks[0].text
    hits = load_kb("inc2").search("요금 납부 기한", k=5)
    assert all(h.source != "sub/납부.txt" for h in hits)


def test_unreadable_pdf_is_skipped_with_a_reason(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.md").write_text("# 안내\n\n고객센터는 114입니다.\n", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    report = ingest_directory(docs, "inc3")
    assert report.files_indexed == 1
    assert report.skipped[0].source == "broken.pdf" and report.skipped[0].reason.startswith("unreadable")


def test_invalid_kb_name_and_missing_directory_are_clear_errors(tmp_path: Path):
    with pytest.raises(KnowledgeBaseError, match="invalid knowledge base name"):
        ingest_directory(tmp_path, "../escape")
    with pytest.raises(KnowledgeBaseError, match="not a directory"):
        ingest_directory(tmp_path / "nope", "fine")
    with pytest.raises(KnowledgeBaseError, match="not found"):
        load_kb("never-ingested")
