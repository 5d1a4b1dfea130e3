"""Sentiment benchmark: accuracy, macro-F1 and per-class precision/recall/F1 on bench/sentiment/eval.tsv.

    .venv/bin/python bench/sentiment/run.py            # the shipped classifier (model + lexicon)
    .venv/bin/python bench/sentiment/run.py --errors   # also list every miss
    .venv/bin/python bench/sentiment/run.py --quick    # smoke run: every 5th line, one timed pass

The set is held out (never trained on) and written in another style than the training lines: no spacing,
typos, slang, polite anger, sarcasm, English mixed in. Rows "model only" and "lexicon only" show what each source
contributes. The model is trained here in a temporary folder, so the run never touches SANGDAM_HOME.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from sangdam.contact_center.sentiment import LABELS, CueLexicon, SentimentClassifier, load_or_train  # noqa: E402

DATA = Path(__file__).with_name("eval.tsv")


def load(path: Path = DATA) -> list[tuple[str, str]]:
    """(label, text) pairs of the evaluation set, comments skipped."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, text = line.split("\t", 1)
            rows.append((label, text))
    return rows


def scores(gold: list[str], pred: list[str]) -> dict[str, object]:
    """Accuracy, macro-F1 and per-class (precision, recall, F1, support)."""
    per = {}
    for label in LABELS:
        tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, pred, strict=True))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        per[label] = (prec, rec, 2 * prec * rec / (prec + rec) if prec + rec else 0.0, tp + fn)
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    return {"accuracy": accuracy, "macro_f1": statistics.fmean(v[2] for v in per.values()), "per_class": per}


def report(name: str, rows: list[tuple[str, str]], predict: Callable[[str], str]) -> tuple[dict, list[str]]:
    pred = [predict(text) for _, text in rows]
    result = scores([g for g, _ in rows], pred)
    print(f"{name:<14} accuracy {result['accuracy']:.3f}   macro-F1 {result['macro_f1']:.3f}")
    return result, pred


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every 5th line, one timed pass")
    parser.add_argument("--errors", action="store_true", help="list every miss")
    args = parser.parse_args()
    rows = load()
    if args.quick:
        rows = rows[::5]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model = load_or_train(Path(tmp))
        train_s = time.perf_counter() - t0
    classifier = SentimentClassifier(model)
    lexicon = CueLexicon.load()
    print(f"{len(rows)} held-out lines ({', '.join(f'{lab} {sum(g == lab for g, _ in rows)}' for lab in LABELS)}); "
          f"model trained in {train_s:.2f} s")
    result, pred = report("combined", rows, lambda t: classifier.classify(t).label)
    report("model only", rows, lambda t: model.classes[int(np.argmax(model.log_proba(t)))])

    def lexicon_only(text: str) -> str:
        totals, _ = lexicon.scores(text)
        best = max(LABELS, key=lambda lab: totals[lab])
        return best if totals[best] > 0 else "neutral"

    report("lexicon only", rows, lexicon_only)
    print("\nper class (combined)   precision  recall  F1     support")
    for label, (p, r, f, n) in result["per_class"].items():
        print(f"  {label:<20} {p:9.3f} {r:7.3f} {f:6.3f} {n:6d}")
    t0 = time.perf_counter()
    for _, text in rows:
        classifier.classify(text)
    print(f"\nlatency: {(time.perf_counter() - t0) * 1000 / len(rows):.3f} ms per message")
    if args.errors:
        print("\nmisses (gold -> predicted):")
        for (gold, text), p in zip(rows, pred, strict=True):
            if gold != p:
                print(f"  {gold:>8} -> {p:<8} {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
