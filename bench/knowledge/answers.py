"""Answer benchmark on material the answer logic was not tuned on: the 한빛모바일 guide set.

``bench/knowledge/hanbit/docs/`` holds 15 documents of a second fictional operator (long FAQ pages, HTML tables
with merged headers, numbered procedures, dated notices, plain text) written independently of the 누리텔레콤
demo KB; ``hanbit/questions.jsonl`` holds 124 answerable questions, each with the fact(s) a correct answer
must contain and its source document, and 24 out-of-domain questions. The set is ingested into a temporary KB
and every question goes through ``sangdam.knowledge.answer`` (extractive, no model). Reported:

* ``correct``: grounded answer that contains every expected fact;
* ``wrong_cited``: grounded (cited) answer without the fact — the most harmful kind, must be 0;
* ``refused_answerable``: an answerable question refused (and how many of those had their source in the top 5);
* ``ood_refused`` / ``ood_answered``: out-of-domain questions refused / answered;
* refusal precision and recall (positive = refused; an out-of-domain question should be refused).

    .venv/bin/python bench/knowledge/answers.py [--quick] [--json] [--details]

``--quick`` uses 5 documents and their questions plus 8 out-of-domain ones (< 30 s); ``make test`` runs it
through ``tests/test_kb_answer_bench.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE / "hanbit" / "docs"
QUESTIONS = HERE / "hanbit" / "questions.jsonl"
QUICK_SOURCES = {
    "계약/약정_해지_위약금.md",
    "요금/데이터_추가_구매.md",
    "계약/가족결합_할인.html",
    "요금/청소년_시니어_요금제.md",
    "고객지원/고객센터_이용_안내.txt",
}
QUICK_OOD = 8


@dataclass
class Report:
    """Counts of one benchmark run (see the module docstring for their meaning)."""

    documents: int = 0
    chunks: int = 0
    answerable: int = 0
    correct: int = 0
    wrong_cited: int = 0
    refused_answerable: int = 0
    refused_with_source_in_top5: int = 0
    source_in_top5: int = 0
    ood: int = 0
    ood_refused: int = 0
    ood_answered: int = 0
    refusal_precision: float = 0.0
    refusal_recall: float = 0.0
    seconds: float = 0.0
    details: list[dict] = field(default_factory=list)


def load_questions(quick: bool = False) -> list[dict]:
    """The question set (``--quick``: the questions of ``QUICK_SOURCES`` and the first out-of-domain ones)."""
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not quick:
        return rows
    ood = [r for r in rows if not r["in_domain"]][:QUICK_OOD]
    return [r for r in rows if r["in_domain"] and r["source"] in QUICK_SOURCES] + ood


def stage_documents(target: Path, quick: bool = False) -> Path:
    """Copy the guide set (or its quick subset) to ``target`` and return it."""
    for path in DOCS.rglob("*"):
        rel = path.relative_to(DOCS).as_posix()
        if path.is_file() and (not quick or rel in QUICK_SOURCES):
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / rel)
    return target


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def run(kb_name: str, workdir: Path, quick: bool = False) -> Report:
    """Ingest the set into the KB ``kb_name`` (under the active SANGDAM_HOME) and answer every question."""
    from sangdam.knowledge.answer import answer
    from sangdam.knowledge.retrieval import load_kb
    from sangdam.knowledge.store import ingest_directory

    started = time.perf_counter()
    docs = stage_documents(workdir, quick)
    ingest = ingest_directory(docs, kb_name)
    kb = load_kb(kb_name)
    report = Report(documents=ingest.files_indexed + ingest.files_unchanged, chunks=ingest.chunks_total)
    for row in load_questions(quick):
        result = answer(row["question"], kb)
        text = _normalise(result.answer)
        detail = {"question": row["question"], "in_domain": row["in_domain"], "grounded": result.grounded,
                  "answer": result.answer}
        if row["in_domain"]:
            report.answerable += 1
            top5 = {h.source for h in kb.search(row["question"], k=5)}
            in_top5 = row["source"] in top5
            report.source_in_top5 += in_top5
            has_fact = all(_normalise(f) in text for f in row["facts"])
            if not result.grounded:
                report.refused_answerable += 1
                report.refused_with_source_in_top5 += in_top5
                detail["outcome"] = "refused"
            elif has_fact:
                report.correct += 1
                detail["outcome"] = "correct"
            else:
                report.wrong_cited += 1
                detail["outcome"] = "wrong_cited"
            detail["facts"] = row["facts"]
        else:
            report.ood += 1
            if result.grounded:
                report.ood_answered += 1
                detail["outcome"] = "ood_answered"
            else:
                report.ood_refused += 1
                detail["outcome"] = "ood_refused"
        report.details.append(detail)
    refused = report.ood_refused + report.refused_answerable
    report.refusal_precision = round(report.ood_refused / refused, 3) if refused else 1.0
    report.refusal_recall = round(report.ood_refused / report.ood, 3) if report.ood else 1.0
    report.seconds = round(time.perf_counter() - started, 1)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 documents, their questions and 8 out-of-domain")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--details", action="store_true", help="include every question's answer and outcome")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sangdam-answer-bench-") as tmp:
        os.environ["SANGDAM_HOME"] = str(Path(tmp) / "home")
        from sangdam.config import reset_settings

        reset_settings()
        workdir = Path(tmp) / "docs"
        workdir.mkdir()
        report = run("hanbit", workdir, quick=args.quick)
    data = asdict(report)
    if not args.details:
        data.pop("details")
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return 0
    for key, value in data.items():
        if key != "details":
            print(f"{key:28} {value}")
    for d in data.get("details", []):
        if d["outcome"] not in ("correct", "ood_refused"):
            print(f"\n[{d['outcome']}] {d['question']}  (expected {d.get('facts')})\n  {d['answer']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
