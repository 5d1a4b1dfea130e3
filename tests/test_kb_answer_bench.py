"""The answer benchmark on unseen material (bench/knowledge/answers.py, 한빛모바일 guide set) in its quick mode,
so the benchmark cannot rot and wrong-but-cited answers cannot creep back."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "knowledge" / "answers.py"

# Measured on the quick subset (docs/knowledge.md): 46/46 with the fact, none wrong but cited. A wrong answer
# with a citation is the most harmful kind, so the bound is 0; the full set is 0 too (bench/knowledge/answers.py).
MAX_WRONG_CITED = 0
MIN_CORRECT = 46


def test_quick_answer_bench_has_no_wrong_but_cited_answers(tmp_path):
    spec = importlib.util.spec_from_file_location("answer_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up while the file runs
    spec.loader.exec_module(bench)
    report = bench.run("answerbench", tmp_path, quick=True)
    wrong = [d["question"] for d in report.details if d["outcome"] == "wrong_cited"]
    assert report.wrong_cited <= MAX_WRONG_CITED, wrong
    assert report.correct >= MIN_CORRECT
    assert report.ood_answered == 0
