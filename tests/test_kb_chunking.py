"""Chunking along document structure for each supported file type (Markdown, HTML, text, PDF)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sangdam.knowledge.chunking import chunk_blocks
from sangdam.knowledge.loaders import UnreadableDocument, load_blocks

MARKDOWN = """# 요금제 안내

누리텔레콤 요금제는 부가세 포함 금액입니다.

## 요금표

| 요금제 | 월정액 | 기본 데이터 |
|---|---|---|
| 5G 슬림 | 55,000원 | 12GB |
| LTE 미니 | 19,800원 | 1.5GB |

## 유의 사항

- 충전은 한 번에 **1GB~5GB**입니다.
- 한 달 최대 10GB까지 충전할 수 있습니다.
"""


def test_markdown_table_row_keeps_its_header_and_heading_path():
    chunks = chunk_blocks("plans.md", load_blocks(Path("plans.md"), MARKDOWN.encode()))
    rows = [c for c in chunks if c.kind == "table_row"]
    assert [r.text for r in rows] == [
        "요금제: 5G 슬림 | 월정액: 55,000원 | 기본 데이터: 12GB",
        "요금제: LTE 미니 | 월정액: 19,800원 | 기본 데이터: 1.5GB",
    ]
    assert all(r.heading == "요금제 안내 > 요금표" for r in rows)
    assert all(r.source == "plans.md" for r in chunks)


def test_markdown_list_items_under_one_heading_merge_without_inline_markup():
    chunks = chunk_blocks("plans.md", load_blocks(Path("plans.md"), MARKDOWN.encode()))
    notes = [c for c in chunks if c.heading == "요금제 안내 > 유의 사항"]
    assert len(notes) == 1
    assert notes[0].text == "충전은 한 번에 1GB~5GB입니다.\n한 달 최대 10GB까지 충전할 수 있습니다."
    intro = chunks[0]
    assert intro.heading == "요금제 안내" and intro.text.startswith("누리텔레콤 요금제는")


def test_chunks_never_cross_headings_and_keep_document_order():
    chunks = chunk_blocks("plans.md", load_blocks(Path("plans.md"), MARKDOWN.encode()))
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)


def test_html_headings_lists_and_tables_become_blocks_and_chrome_is_dropped():
    html = """<html><head><title>로밍 | 누리텔레콤</title><script>var x = '숨김';</script></head><body>
    <nav>홈 &gt; 로밍</nav>
    <h1>해외 로밍</h1><p>출국 전에 로밍을 켜 주세요.</p>
    <h2>패스</h2>
    <table><tr><th>패스</th><th>요금</th></tr><tr><td>일본 3일</td><td>13,200원</td></tr></table>
    <ol><li>앱에서 신청합니다.</li><li>데이터 로밍을 켭니다.</li></ol>
    <footer>고객센터 114</footer></body></html>"""
    blocks = load_blocks(Path("r.html"), html.encode())
    texts = [b.text for b in blocks]
    assert "패스: 일본 3일 | 요금: 13,200원" in texts
    assert "1. 앱에서 신청합니다." in texts and "2. 데이터 로밍을 켭니다." in texts
    assert not any("숨김" in t or "홈" in t or "고객센터 114" in t for t in texts)
    row = next(b for b in blocks if b.kind == "table_row")
    assert row.headings == ["해외 로밍", "패스"]


def test_html_merged_header_cells_label_every_column_and_second_header_row_is_not_data():
    html = """<h1>요금제</h1><table>
    <tr><th rowspan="2">요금제</th><th rowspan="2">월 요금</th><th colspan="2">기본 제공</th></tr>
    <tr><th>데이터</th><th>음성</th></tr>
    <tr><td>LTE 알뜰</td><td>23,000원</td><td>3GB</td><td>200분</td></tr>
    <tr><td rowspan="2">5G</td><td>45,000원</td><td>10GB</td><td>무제한</td></tr>
    <tr><td>62,000원</td><td>80GB</td><td>무제한</td></tr></table>"""
    rows = [b.text for b in load_blocks(Path("p.html"), html.encode()) if b.kind == "table_row"]
    assert rows == [
        "요금제: LTE 알뜰 | 월 요금: 23,000원 | 기본 제공 / 데이터: 3GB | 기본 제공 / 음성: 200분",
        "요금제: 5G | 월 요금: 45,000원 | 기본 제공 / 데이터: 10GB | 기본 제공 / 음성: 무제한",
        "요금제: 5G | 월 요금: 62,000원 | 기본 제공 / 데이터: 80GB | 기본 제공 / 음성: 무제한",
    ]


def test_plain_text_title_bracket_headings_and_bullets():
    text = "번호이동 안내\n\n번호를 유지하며 통신사를 바꿉니다.\n\n[다른 통신사로]\n옮길 통신사에서 신청합니다.\n- 할부금은 한꺼번에 청구됩니다.\n- 미납 요금은 마지막 청구서로 청구됩니다.\n"
    blocks = load_blocks(Path("a.txt"), text.encode())
    assert blocks[0].headings == ["번호이동 안내"] and blocks[0].kind == "paragraph"
    items = [b for b in blocks if b.kind == "list_item"]
    assert [b.headings for b in items] == [["번호이동 안내", "다른 통신사로"]] * 2
    assert items[0].text == "- 할부금은 한꺼번에 청구됩니다."


def test_cp949_text_is_decoded():
    blocks = load_blocks(Path("old.txt"), "요금 납부일은 25일입니다.".encode("cp949"))
    assert blocks[0].text == "요금 납부일은 25일입니다."


def test_pdf_rendered_from_source_is_chunked_by_article(tmp_path: Path):
    from sangdam.knowledge.demo import render_pdf
    from sangdam.knowledge.store import KnowledgeBaseError

    try:
        from sangdam.knowledge.demo import korean_font

        font = korean_font()
    except KnowledgeBaseError:
        pytest.skip("fonts-nanum is not installed (scripts/system-deps.sh installs it)")
    source = tmp_path / "terms.md"
    source.write_text(
        "# 이용약관 요약\n\n이 문서는 약관을 요약한 것입니다.\n\n## 제12조(요금의 청구)\n\n"
        "납부 기한은 이용 월 다음 달 25일입니다.\n\n## 제18조(이용정지)\n\n"
        "- 고객은 분실, 일시정지, 군입대 사유로 정지를 신청할 수 있습니다.\n"
        "- 미납 요금이 있으면 정지 해제를 거절할 수 있습니다.\n",
        encoding="utf-8",
    )
    pdf = tmp_path / "terms.pdf"
    render_pdf(source, pdf, font)
    chunks = chunk_blocks("terms.pdf", load_blocks(pdf, pdf.read_bytes()))
    by_heading = {c.heading: c.text for c in chunks}
    assert by_heading["이용약관 요약 > 제12조(요금의 청구)"] == "납부 기한은 이용 월 다음 달 25일입니다."
    assert "미납 요금이 있으면 정지 해제를 거절할 수 있습니다." in by_heading["이용약관 요약 > 제18조(이용정지)"]


def test_broken_pdf_is_unreadable_not_a_crash():
    with pytest.raises(UnreadableDocument):
        load_blocks(Path("broken.pdf"), b"%PDF-1.4 this is not really a pdf")
