"""Retrieval benchmark over the 누리텔레콤 demo KB.

Reports recall@1, recall@5, MRR@10 (by source), heading hit@5, and p50/p95 search latency for
(a) whitespace BM25, (b) kiwi-morpheme BM25, (c) dense only (e5), (d) hybrid (RRF);
the refusal calibration on out-of-domain questions; extractive answer latency; and search latency on a
synthesised 10k-chunk corpus.

    SANGDAM_HOME=/tmp/bench-home .venv/bin/python bench/retrieval/run.py [--skip-10k] [--sweep]

The demo KB is (re)built first with ``build_demo`` (a no-op when unchanged).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent


def load_questions() -> tuple[list[tuple[str, list[str], str | None]], list[str], list[str]]:
    data = yaml.safe_load((HERE / "questions.yaml").read_text(encoding="utf-8"))
    items = []
    for group in data["in_domain"]:
        for raw in group["questions"]:
            q, _, heading = (part.strip() for part in raw.partition(" | "))
            items.append((q, group["sources"], heading or None))
    return items, data["out_of_domain"], data.get("out_of_domain_heldout", [])


def whitespace_tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\s\.,!?()\[\]|:/·~\"']+", text.lower()) if t]


class WhitespaceBM25:
    """Baseline: bm25s over whitespace tokens (Korean particles stay glued to nouns)."""

    def __init__(self, chunks) -> None:  # noqa: ANN001
        import bm25s

        self.chunks = chunks
        self.bm25 = bm25s.BM25()
        self.bm25.index([whitespace_tokens(c.passage_text()) or ["∅"] for c in chunks], show_progress=False)

    def search(self, query: str, k: int) -> list[int]:
        ids = self.bm25.get_tokens_ids(whitespace_tokens(query))
        if not ids:
            return []
        scores = self.bm25.get_scores_from_ids(ids)
        order = np.argsort(-scores)[:k]
        return [int(i) for i in order if scores[i] > 0]


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) if values else 0.0


def evaluate(name: str, search, items) -> dict:  # noqa: ANN001
    """search(q) -> list of (source, heading) best first."""
    r1 = r5 = mrr = h5 = 0.0
    latencies = []
    misses = []
    for q, sources, heading in items:
        t0 = time.perf_counter()
        results = search(q)
        latencies.append((time.perf_counter() - t0) * 1000)
        ranks = [i for i, (src, _) in enumerate(results[:10], start=1) if src in sources]
        if ranks:
            mrr += 1 / ranks[0]
            r1 += ranks[0] == 1
            r5 += ranks[0] <= 5
        else:
            misses.append(q)
        if any(src in sources and (heading is None or heading in head) for src, head in results[:5]):
            h5 += 1
    n = len(items)
    return {"method": name, "recall@1": r1 / n, "recall@5": r5 / n, "MRR": mrr / n, "heading@5": h5 / n,
            "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95), "misses": misses}


def print_table(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print(f"{'method':<18}{'recall@1':>9}{'recall@5':>9}{'MRR':>7}{'head@5':>8}{'p50 ms':>9}{'p95 ms':>9}")
    for r in rows:
        print(f"{r['method']:<18}{r['recall@1']:>9.3f}{r['recall@5']:>9.3f}{r['MRR']:>7.3f}{r['heading@5']:>8.3f}"
              f"{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}")


def refusal_report(kb, items, ood, sweep: bool) -> None:  # noqa: ANN001
    from sangdam.knowledge import answer as answer_mod

    def top_signals(q: str) -> list[tuple[float, float]]:
        return [(h.dense, h.bm25) for h in kb.search(q, k=5)]

    ind = [top_signals(q) for q, _, _ in items]
    out = [top_signals(q) for q in ood]

    def rates(strong: float, low: float, bm: float) -> tuple[float, float]:
        ok = lambda sig: any(d >= strong or (d >= low and b >= bm) for d, b in sig)  # noqa: E731
        return sum(ok(s) for s in ind) / len(ind), sum(not ok(s) for s in out) / len(out)

    a, r = rates(answer_mod.DENSE_STRONG, answer_mod.DENSE_MIN, answer_mod.BM25_MIN)
    print(f"\nrefusal calibration (thresholds dense>={answer_mod.DENSE_STRONG} or dense>={answer_mod.DENSE_MIN} "
          f"and bm25>={answer_mod.BM25_MIN}): in-domain answered {a:.3f}, out-of-domain refused {r:.3f}")
    top_in = sorted(max(d for d, _ in s) for s in ind if s)
    top_out = sorted(max(d for d, _ in s) for s in out if s)
    print(f"  top dense cosine: in-domain min/p5/p50 {top_in[0]:.3f}/{percentile(top_in, 5):.3f}/"
          f"{percentile(top_in, 50):.3f}; out-of-domain p50/p95/max {percentile(top_out, 50):.3f}/"
          f"{percentile(top_out, 95):.3f}/{top_out[-1]:.3f}")
    if sweep:
        best = []
        for strong in np.arange(0.82, 0.90, 0.005):
            for low in np.arange(0.76, strong, 0.01):
                for bm in (2.0, 3.0, 4.0, 5.0, 6.0, 8.0):
                    a, r = rates(strong, low, bm)
                    best.append((a + r, a, r, round(strong, 3), round(low, 3), bm))
        best.sort(reverse=True)
        for row in best[:8]:
            print(f"  sweep: answered {row[1]:.3f} refused {row[2]:.3f} strong={row[3]} min={row[4]} bm25={row[5]}")
    wrongly = [q for q in ood if any(d >= answer_mod.DENSE_STRONG or (d >= answer_mod.DENSE_MIN and b >= answer_mod.BM25_MIN)
                                     for d, b in top_signals(q))]
    if wrongly:
        print(f"  out-of-domain answered: {wrongly}")


def synthetic_kb(kb, n: int):  # noqa: ANN001, ANN201
    """A KB of ``n`` chunks: the real ones plus recombinations of their sentences (kiwi-tokenised for BM25);
    dense vectors of synthetic chunks are noisy means of their parents' vectors (timing only, not quality)."""
    import bm25s

    from sangdam.knowledge.models import Chunk
    from sangdam.knowledge.retrieval import KnowledgeBase
    from sangdam.korean.analyzer import tokenize_for_search

    rng = random.Random(7)
    sentences = [(i, s) for i, c in enumerate(kb.chunks) for s in re.split(r"(?<=[.다요])\s+|\n", c.text) if s]
    chunks = list(kb.chunks)
    vectors = [v for v in kb.vectors]
    while len(chunks) < n:
        picks = rng.sample(sentences, 3)
        text = " ".join(s for _, s in picks)
        chunks.append(Chunk(id=f"syn{len(chunks)}", source=f"synthetic/{len(chunks) // 20}.md",
                            heading="합성 문서", text=text, ordinal=len(chunks) % 20))
        v = np.mean([kb.vectors[i] for i, _ in picks], axis=0) + np.random.default_rng(len(chunks)).normal(0, 0.02, 384)
        vectors.append((v / np.linalg.norm(v)).astype(np.float32))
    t0 = time.perf_counter()
    tokens = [tokenize_for_search(c.passage_text()) or ["∅"] for c in chunks]
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    print(f"\n10k corpus: {len(chunks)} chunks, kiwi tokenise + BM25 index {time.perf_counter() - t0:.1f}s")
    return KnowledgeBase("synthetic", Path("."), chunks, np.stack(vectors), bm25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kb", default="default")
    parser.add_argument("--skip-10k", action="store_true")
    parser.add_argument("--sweep", action="store_true", help="sweep refusal thresholds")
    args = parser.parse_args()

    from sangdam.knowledge.answer import answer
    from sangdam.knowledge.demo import build_demo
    from sangdam.knowledge.retrieval import KnowledgeBase, load_kb

    report = build_demo(args.kb)
    items, ood, heldout = load_questions()
    print(f"demo KB: {report.files_seen} files, {report.chunks_total} chunks; {len(items)} questions, "
          f"{len(ood)} out-of-domain")
    t0 = time.perf_counter()
    kb = KnowledgeBase.open(load_kb(args.kb).path, args.kb)
    print(f"cold KB load (chunks + vectors + bm25s): {(time.perf_counter() - t0) * 1000:.0f} ms")
    kb.search("워밍업 질문")  # load kiwi and e5 once

    def as_pairs(hits):  # noqa: ANN001, ANN202
        return [(h.source, h.heading) for h in hits]

    ws = WhitespaceBM25(kb.chunks)
    rows = [
        evaluate("whitespace BM25", lambda q: [(kb.chunks[i].source, kb.chunks[i].heading) for i in ws.search(q, 10)], items),
        evaluate("kiwi BM25", lambda q: as_pairs(kb.search(q, 10, mode="bm25")), items),
        evaluate("dense (e5)", lambda q: as_pairs(kb.search(q, 10, mode="dense")), items),
        evaluate("hybrid (RRF)", lambda q: as_pairs(kb.search(q, 10, mode="hybrid")), items),
    ]
    print_table(rows, f"demo KB ({len(kb.chunks)} chunks, {len(items)} questions)")
    for r in rows:
        if r["misses"]:
            print(f"  {r['method']} misses@10 ({len(r['misses'])}): {r['misses'][:8]}")

    refusal_report(kb, items, ood, args.sweep)
    refused = [q for q in heldout if not answer(q, kb).grounded]
    print(f"  held-out out-of-domain refused by answer(): {len(refused)}/{len(heldout)}; answered: "
          f"{[q for q in heldout if q not in refused]}")

    latencies = []
    for q, _, _ in items[:60]:
        t0 = time.perf_counter()
        answer(q, kb)
        latencies.append((time.perf_counter() - t0) * 1000)
    print(f"\nextractive answer(): p50 {percentile(latencies, 50):.0f} ms, p95 {percentile(latencies, 95):.0f} ms")

    if not args.skip_10k:
        big = synthetic_kb(kb, 10_000)
        sample = items[::4]
        ws_big = WhitespaceBM25(big.chunks)
        rows = [
            evaluate("whitespace BM25", lambda q: [(big.chunks[i].source, "") for i in ws_big.search(q, 10)], sample),
            evaluate("kiwi BM25", lambda q: as_pairs(big.search(q, 10, mode="bm25")), sample),
            evaluate("dense (e5)", lambda q: as_pairs(big.search(q, 10, mode="dense")), sample),
            evaluate("hybrid (RRF)", lambda q: as_pairs(big.search(q, 10, mode="hybrid")), sample),
        ]
        print_table(rows, f"10k chunks ({len(big.chunks)}; latency is what counts, synthetic distractors)")


if __name__ == "__main__":
    main()
