"""Search, cited answers, refusal, the writer hook and the ``sangdam kb`` CLI JSON contracts, over a subset
of the real demo documents (real kiwi, real e5 embeddings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sangdam.knowledge.answer import Passage, WrittenSentence, answer
from sangdam.knowledge.demo import stage_demo_documents
from sangdam.knowledge.messages import message
from sangdam.knowledge.retrieval import load_kb
from sangdam.knowledge.store import ingest_directory

KB = "kbtest"
SUBSET = {
    "요금제/5G_요금제_안내.md",
    "로밍/로밍_패스_요금표.md",
    "가입_해지/분실신고_및_일시정지.md",
    "가입_해지/해지_및_위약금_안내.md",
    "문제해결/USIM_PIN_잠금_해제.md",
    "약관/이용약관_주요내용.pdf",
}


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory):
    docs = stage_demo_documents(tmp_path_factory.mktemp("demo"))
    for path in [p for p in docs.rglob("*") if p.is_file() and not p.name.startswith(".")]:
        if path.relative_to(docs).as_posix() not in SUBSET:
            path.unlink()
    report = ingest_directory(docs, KB)
    assert report.files_indexed == len(SUBSET)
    return load_kb(KB)


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("5G 슬림 요금제 한 달에 얼마예요?", "요금제/5G_요금제_안내.md"),
        ("유럽 가는데 로밍 패스 얼마야", "로밍/로밍_패스_요금표.md"),
        ("핸드폰 잃어버렸어요 어떻게 해요", "가입_해지/분실신고_및_일시정지.md"),
        ("유심 비밀번호 3번 틀렸어요", "문제해결/USIM_PIN_잠금_해제.md"),
        ("통신 장애로 3시간 넘게 안 됐는데 배상 받을 수 있나요", "약관/이용약관_주요내용.pdf"),
    ],
)
def test_search_returns_the_document_that_answers(kb, question, source):
    hits = kb.search(question, k=3)
    assert hits[0].source == source


def test_table_row_question_finds_the_row_with_its_header(kb):
    hits = kb.search("유럽 10일 패스 요금", k=5)
    row = next(h for h in hits if h.text.startswith("패스: 유럽 10일"))
    assert "요금: 44,000원" in row.text and row.heading.endswith("패스별 요금과 제공량")


def test_answer_quotes_the_supporting_passage_with_its_source(kb):
    result = answer("선택약정 6개월 안에 해지하면 위약금 얼마나 돼요?", kb)
    assert result.grounded
    assert "100%" in result.answer
    assert result.citations[0].source == "가입_해지/해지_및_위약금_안내.md"
    assert result.answer.startswith("경과 기간: 6개월 이하")  # the tier the question names leads
    for citation in result.citations:  # every quoted row or sentence is text of the cited section
        rest = citation.quote
        for chunk in kb.chunks:
            if chunk.source == citation.source and chunk.heading == citation.heading:
                for line in chunk.text.split("\n"):
                    rest = rest.replace(line.strip(), "")
        assert rest.strip(" …") == ""


@pytest.mark.parametrize("question", ["오늘 서울 날씨 어때?", "삼성전자 주식 지금 사도 될까요", "김치찌개 맛있게 끓이는 법"])
def test_refuses_and_offers_an_agent_when_nothing_relevant(kb, question):
    result = answer(question, kb)
    assert not result.grounded
    assert result.citations == []
    assert result.answer == message("no_answer") and "상담사" in result.answer
    assert "누리텔레콤" not in result.answer and "114" not in result.answer  # any operator's KB


def test_writer_answer_keeps_citations_of_the_passages_it_used(kb):
    seen: list[list[Passage]] = []

    def writer(question: str, passages: list[Passage]) -> list[WrittenSentence]:
        seen.append(passages)
        return [WrittenSentence(text="분실 신고는 24시간 접수됩니다.", passage_ids=[passages[0].id])]

    result = answer("휴대폰 분실 신고는 언제 할 수 있어요?", kb, writer=writer)
    assert result.answer == "분실 신고는 24시간 접수됩니다."
    assert result.citations[0].source == seen[0][0].source


def test_writer_sentence_without_valid_citation_falls_back_to_extractive(kb):
    def writer(question: str, passages: list[Passage]) -> list[WrittenSentence]:
        return [WrittenSentence(text="분실 신고는 무료입니다.", passage_ids=[99])]

    result = answer("휴대폰 분실 신고는 언제 할 수 있어요?", kb, writer=writer)
    assert result.answer != "분실 신고는 무료입니다."
    assert result.grounded and result.citations


def test_writer_is_not_called_when_nothing_relevant(kb):
    def writer(question: str, passages: list[Passage]) -> list[WrittenSentence]:
        raise AssertionError("must not write without relevant passages")

    assert not answer("파스타 레시피 추천해 줘", kb, writer=writer).grounded


# --- CLI contracts -----------------------------------------------------------------------------------------

def _cli(args: list[str], stdin: str | None = None):
    from sangdam.cli import app

    return CliRunner().invoke(app, args, input=stdin)


def test_cli_search_json_shape(kb):
    result = _cli(["kb", "search", "일본 로밍 패스", "--kb", KB, "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert list(payload) == ["results"] and len(payload["results"]) == 3
    for hit in payload["results"]:
        assert set(hit) == {"source", "heading", "text", "score"} and isinstance(hit["score"], float)
    assert payload["results"][0]["source"] == "로밍/로밍_패스_요금표.md"


def test_cli_ask_json_shape(kb):
    result = _cli(["kb", "ask", "PUK 코드 10번 틀리면 어떻게 돼요?", "--kb", KB, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"answer", "citations"} and payload["answer"]
    assert set(payload["citations"][0]) == {"source", "heading", "quote"}


def test_cli_jsonl_prints_one_object_per_input_line(kb):
    result = _cli(["kb", "ask", "--kb", KB, "--jsonl"], stdin="유심 PIN 초기값이 뭐예요?\n오늘 날씨 어때?\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    assert lines[0]["citations"] and lines[1]["citations"] == []
    result = _cli(["kb", "search", "--kb", KB, "--jsonl", "--k", "2"], stdin="분실 신고\n\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2 and len(lines[0]["results"]) == 2 and lines[1] == {"results": []}


def test_cli_errors_are_clear_for_operators(kb, tmp_path: Path):
    missing = _cli(["kb", "search", "x", "--kb", "does-not-exist", "--json"])
    assert missing.exit_code == 2 and "not found" in missing.output
    both = _cli(["kb", "ask", "질문", "--kb", KB, "--jsonl"])
    assert both.exit_code == 2
    notdir = _cli(["kb", "ingest", str(tmp_path / "nope"), "--kb", KB])
    assert notdir.exit_code == 2 and "not a directory" in notdir.output



def test_answer_from_a_table_row_brings_the_whole_small_table(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "반환금.md").write_text(
        "# 선택약정 반환금\n\n## 반환 비율\n\n"
        "| 경과 기간 | 반환 비율 |\n|---|---|\n"
        "| 6개월 이하 | 받은 할인액의 100% |\n| 6개월 초과 12개월 이하 | 받은 할인액의 50% |\n"
        "| 12개월 초과 | 받은 할인액의 30% |\n\n"
        "## 데이터 충전\n\n데이터는 한 번에 1GB에서 5GB까지 충전할 수 있습니다.\n",
        encoding="utf-8",
    )
    ingest_directory(docs, "tabletest")
    result = answer("경과 기간 12개월 초과면 반환 비율이 몇 퍼센트예요?", kb="tabletest")
    assert result.grounded
    for share in ("100%", "50%", "30%"):  # every row of the schedule, not just the best-matching one
        assert share in result.answer
    assert "5GB" not in result.answer


def test_definition_question_leads_with_the_sentence_that_defines_the_term(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "위약금.md").write_text(
        "# 약정 해지 위약금\n\n## 개요\n\n약정 기간 안에 해지하면 받은 할인의 일부를 돌려주셔야 합니다. "
        "이를 할인 반환금이라고 합니다.\n\n## 반환 비율\n\n"
        "| 사용 기간 | 반환 비율 |\n|---|---|\n| 1~12개월 | 할인 반환금 100% |\n| 13~24개월 | 할인 반환금 50% |\n",
        encoding="utf-8",
    )
    ingest_directory(docs, "definitiontest")
    result = answer("할인반환금이 뭐예요?", kb="definitiontest")
    assert result.grounded
    assert result.answer.startswith("약정 기간 안에 해지하면 받은 할인의 일부를 돌려주셔야 합니다.")
    assert result.citations[0].heading.endswith("개요")


def test_answer_whose_leading_section_shares_no_topic_word_with_the_question_is_refused():
    from sangdam.knowledge.answer import _has_support
    from sangdam.knowledge.models import SearchHit

    hit = SearchHit(source="보험.md", heading="휴대폰 보험 > 가입 조건", text="", score=0.0)
    assert not _has_support("보험금은 언제 나와요?", ["개통일로부터 60일 안에만 가입할 수 있습니다."], [hit])
    assert _has_support("보험 가입 언제까지 돼요?", ["개통일로부터 60일 안에만 가입할 수 있습니다."], [hit])
