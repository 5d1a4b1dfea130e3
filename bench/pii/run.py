"""PII benchmark: precision/recall/F1 per type on bench/pii/labelled.jsonl, and latency per utterance.

    .venv/bin/python bench/pii/run.py                 # Sangdam's detector
    .venv/bin/python bench/pii/run.py --presidio      # also Presidio's pattern recognisers, if importable
    .venv/bin/python bench/pii/run.py --errors        # list every miss and false alarm
    .venv/bin/python bench/pii/run.py --data bench/pii/issue11.jsonl   # glued numbers, card expiry and CVC
    .venv/bin/python bench/pii/run.py --data bench/pii/in_context.jsonl   # split numbers, several turns, banks
    .venv/bin/python bench/pii/run.py --quick         # smoke run: the first lines of every set, one timed pass

A line may carry "previous": the customer's earlier turns, masked first by one ``PiiVault`` (pieces of a number
given across turns); only the last turn is scored. Scoring is strict (same type and exact span) with an "overlap" column that accepts any overlapping span of the
same type. Presidio runs without an NLP engine (there is no Korean spaCy model installable offline), i.e. only
its pattern/validator recognisers: credit card, e-mail, phone (phonenumbers, region KR) and its Korean
recognisers (KR_RRN, KR_FRN, KR_PASSPORT, KR_DRIVER_LICENSE). It has none for bank accounts or IMEIs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from sangdam.korean.pii import PiiType, detect  # noqa: E402
from sangdam.korean.vault import PiiVault  # noqa: E402

Span = tuple[str, int, int]
QUICK_LINES = 40  # --quick: lines kept from each set
TYPES = [t.value for t in PiiType if t is not PiiType.BIRTH_DATE]  # birth dates: privacy stage, not detect()


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sangdam_detector(text: str, previous: Sequence[str] = ()) -> list[Span]:
    if not previous:
        return [(e.type.value, e.start, e.end) for e in detect(text)]
    vault = PiiVault("bench")
    for turn in previous:
        vault.mask_utterance(turn)
    return [(e.type.value, e.start, e.end) for e in vault.mask_utterance(text).entities]


def presidio_detector() -> Callable[[str], list[Span]]:
    """Presidio's predefined pattern recognisers relevant to Korean PII, run without an NLP engine."""
    import tldextract
    from presidio_analyzer import EntityRecognizer

    # Presidio's e-mail validator calls tldextract, which would fetch the public-suffix list over the network;
    # use the snapshot bundled with tldextract instead.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        KrDriverLicenseRecognizer,
        KrFrnRecognizer,
        KrPassportRecognizer,
        KrRrnRecognizer,
        PhoneRecognizer,
    )

    mapping = {
        "CREDIT_CARD": "card",
        "EMAIL_ADDRESS": "email",
        "PHONE_NUMBER": "phone",
        "KR_RRN": "rrn",
        "KR_FRN": "foreigner_rrn",
        "KR_PASSPORT": "passport",
        "KR_DRIVER_LICENSE": "driver_license",
    }
    recognizers = [
        CreditCardRecognizer(),
        EmailRecognizer(),
        PhoneRecognizer(supported_regions=("KR",)),
        KrRrnRecognizer(),
        KrFrnRecognizer(),
        KrPassportRecognizer(),
        KrDriverLicenseRecognizer(),
    ]

    def run(text: str) -> list[Span]:
        results = []
        for rec in recognizers:
            results.extend(rec.analyze(text, rec.supported_entities, None))
        results = EntityRecognizer.remove_duplicates(results)
        return [(mapping[r.entity_type], r.start, r.end) for r in results if r.entity_type in mapping]

    return run


def score(rows: list[dict], detector: Callable[[str], list[Span]]) -> tuple[dict, list[str], list[float]]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    tp_overlap: Counter[str] = Counter()
    errors: list[str] = []
    latencies: list[float] = []
    for row in rows:
        gold = {(e["type"], e["start"], e["end"]) for e in row["entities"]}
        t0 = time.perf_counter()
        previous = row.get("previous")
        pred = set(detector(row["text"], previous) if previous and detector is sangdam_detector else detector(row["text"]))
        latencies.append((time.perf_counter() - t0) * 1000)
        for span in pred & gold:
            tp[span[0]] += 1
        for span in pred - gold:
            fp[span[0]] += 1
            errors.append(f"FP {span[0]:<15} {row['id']} {row['text'][span[1]:span[2]]!r} in {row['text']!r}")
        for span in gold - pred:
            fn[span[0]] += 1
            errors.append(f"FN {span[0]:<15} {row['id']} {row['text'][span[1]:span[2]]!r} in {row['text']!r}")
        for g in gold:
            if any(p[0] == g[0] and p[1] < g[2] and g[1] < p[2] for p in pred):
                tp_overlap[g[0]] += 1
    table = {}
    for t in [*TYPES, "ALL"]:
        keys = TYPES if t == "ALL" else [t]
        a, b, c = (sum(x[k] for k in keys) for x in (tp, fp, fn))
        o = sum(tp_overlap[k] for k in keys)
        p = a / (a + b) if a + b else float("nan")
        r = a / (a + c) if a + c else float("nan")
        f = 2 * p * r / (p + r) if a else 0.0
        table[t] = {"gold": a + c, "tp": a, "fp": b, "fn": c, "precision": p, "recall": r, "f1": f,
                    "recall_overlap": o / (a + c) if a + c else float("nan")}  # fmt: skip
    return table, errors, latencies


def print_table(name: str, table: dict, latencies: list[float], n_negative_lines: int, neg_fp_lines: int) -> None:
    print(f"\n## {name}")
    print(f"{'type':<15} {'gold':>4} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>6} {'recall':>6} {'F1':>6} {'rec~':>6}")
    for t, m in table.items():
        print(
            f"{t:<15} {m['gold']:>4} {m['tp']:>4} {m['fp']:>4} {m['fn']:>4} {m['precision']:>6.3f} "
            f"{m['recall']:>6.3f} {m['f1']:>6.3f} {m['recall_overlap']:>6.3f}"
        )
    lat = sorted(latencies)
    print(
        f"hard-negative lines with any detection: {neg_fp_lines}/{n_negative_lines}; latency per line (ms): "
        f"mean {statistics.mean(lat):.3f}  p50 {lat[len(lat) // 2]:.3f}  p95 {lat[int(len(lat) * 0.95)]:.3f}  "
        f"max {lat[-1]:.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="a JSONL set (default: labelled.jsonl; with --quick: every set)")
    ap.add_argument("--presidio", action="store_true", help="also score Presidio's pattern recognisers")
    ap.add_argument("--errors", action="store_true", help="print every false positive and false negative")
    ap.add_argument("--repeat", type=int, default=5, help="timing passes (the first, a warm-up, is discarded)")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run: the first {QUICK_LINES} lines of each set (or of --data), two passes")
    args = ap.parse_args()

    here = Path(__file__).parent
    if args.data:
        sets = [args.data]
    else:
        sets = sorted(here.glob("*.jsonl")) if args.quick else [here / "labelled.jsonl"]
    for path in sets:
        if len(sets) > 1:
            print(f"== {path.name}")
        run_set(load(path)[:QUICK_LINES] if args.quick else load(path), args, 2 if args.quick else args.repeat)


def run_set(rows: list[dict], args: argparse.Namespace, repeat: int) -> None:
    negatives = [r for r in rows if not r["entities"]]
    print(f"{len(rows)} lines, {sum(len(r['entities']) for r in rows)} entities, {len(negatives)} hard-negative lines")
    systems: list[tuple[str, Callable[[str], list[Span]]]] = [("sangdam", sangdam_detector)]
    if args.presidio:
        try:
            systems.append(("presidio (pattern recognisers, no NLP engine)", presidio_detector()))
        except ImportError as exc:
            print(f"presidio not available: {exc}")
    for name, detector in systems:
        latencies: list[float] = []
        table: dict = {}
        errors: list[str] = []
        for i in range(max(2, repeat)):
            table, errors, lat = score(rows, detector)
            if i > 0:
                latencies.extend(lat)
        neg_fp = sum(1 for r in negatives if detector(r["text"]))
        print_table(name, table, latencies, len(negatives), neg_fp)
        if args.errors:
            print("\n".join(errors))


if __name__ == "__main__":
    main()
