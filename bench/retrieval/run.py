"""Retrieval benchmark over the 누리텔레콤 demo KB and synthetic 10k / 100k-chunk corpora.

Reports recall@1, recall@5, MRR@10 (by source), heading hit@5, and p50/p95 search latency for
(a) whitespace BM25, (b) kiwi-morpheme BM25, (c) dense only (e5), (d) hybrid by reciprocal-rank fusion (the
fusion before issue 15), (e) hybrid by score fusion (``retrieval.fuse``, the shipped one); the refusal
calibration on out-of-domain questions; extractive answer latency; and, on corpora of 10k and 100k chunks
(the real chunks plus synthetic distractors), quality on the dev and held-out halves of the questions,
latency and memory.

    SANGDAM_HOME=/tmp/bench-home .venv/bin/python bench/retrieval/run.py [--sizes 10000,100000] [--sweep]
    .venv/bin/python bench/retrieval/run.py --quick      # seconds: 3 documents, a 2k corpus (make test runs it)

Dev / held-out: questions with an even index are the dev half (``--sweep`` tunes the BM25 weight on them, on
the demo KB and the 10k corpus); odd ones are held out; the 100k corpus is never used for tuning.
The demo KB is (re)built first with ``build_demo`` (a no-op when unchanged).
"""

from __future__ import annotations

import argparse
import importlib
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
    """Share of in-domain questions answered and out-of-domain ones refused by ``answer.is_relevant``."""
    # The package re-exports the function ``answer``; ``is_relevant`` lives in the module of the same name.
    answer_mod = importlib.import_module("sangdam.knowledge.answer")
    in_hits = [kb.search(q, k=5) for q, _, _ in items]
    out_hits = [kb.search(q, k=5) for q in ood]
    answered = sum(any(answer_mod.is_relevant(h) for h in hits) for hits in in_hits) / len(in_hits)
    wrongly = [q for q, hits in zip(ood, out_hits) if any(answer_mod.is_relevant(h) for h in hits)]
    print(f"\nrefusal calibration (answer.is_relevant): in-domain answered {answered:.3f}, out-of-domain "
          f"refused {1 - len(wrongly) / max(len(ood), 1):.3f}")
    if wrongly:
        print(f"  out-of-domain answered: {wrongly}")
    top_in = sorted(max(h.dense for h in hits) for hits in in_hits if hits)
    top_out = sorted(max(h.dense for h in hits) for hits in out_hits if hits)
    if top_in and top_out:
        print(f"  top dense cosine: in-domain min/p5/p50 {top_in[0]:.3f}/{percentile(top_in, 5):.3f}/"
              f"{percentile(top_in, 50):.3f}; out-of-domain p50/p95/max {percentile(top_out, 50):.3f}/"
              f"{percentile(top_out, 95):.3f}/{top_out[-1]:.3f}")
    if sweep:
        ind = [[(h.dense, h.bm25) for h in hits] for hits in in_hits]
        out = [[(h.dense, h.bm25) for h in hits] for hits in out_hits]

        def rates(strong: float, low: float, bm: float) -> tuple[float, float]:
            ok = lambda sig: any(d >= strong or (d >= low and b >= bm) for d, b in sig)  # noqa: E731
            return sum(ok(s) for s in ind) / len(ind), sum(not ok(s) for s in out) / len(out)

        best = []
        for strong in np.arange(0.82, 0.90, 0.005):
            for low in np.arange(0.76, strong, 0.01):
                for bm in (2.0, 3.0, 4.0, 5.0, 6.0, 8.0):
                    a, r = rates(strong, low, bm)
                    best.append((a + r, a, r, round(strong, 3), round(low, 3), bm))
        best.sort(reverse=True)
        for row in best[:8]:
            print(f"  sweep: answered {row[1]:.3f} refused {row[2]:.3f} strong={row[3]} min={row[4]} bm25={row[5]}")


def synthetic_kb(kb, n: int):  # noqa: ANN001, ANN201
    """A KB of ``n`` chunks: the real ones plus recombinations of three of their sentences. Dense vectors of
    synthetic chunks are noisy means of their parents' vectors; their BM25 tokens are the concatenated kiwi
    tokens of their sentences (each sentence is tokenised once, so 100k chunks index in seconds). Synthetic
    chunks are hard distractors: they repeat the answers' own words under a wrong source."""
    import bm25s

    from sangdam.knowledge.models import Chunk
    from sangdam.knowledge.retrieval import KnowledgeBase
    from sangdam.korean.analyzer import tokenize_for_search

    t0 = time.perf_counter()
    rng = random.Random(7)
    noise = np.random.default_rng(7)
    sentences = [(i, s) for i, c in enumerate(kb.chunks) for s in re.split(r"(?<=[.다요])\s+|\n", c.text) if s]
    sentence_tokens = [tokenize_for_search(s) for _, s in sentences]
    heading_tokens = tokenize_for_search("합성 문서")
    chunks = list(kb.chunks)
    tokens = [tokenize_for_search(c.passage_text()) or ["∅"] for c in chunks]
    extra = n - len(chunks)
    vectors = np.empty((max(n, len(chunks)), kb.vectors.shape[1]), np.float32)
    vectors[:len(chunks)] = kb.vectors
    for j in range(max(extra, 0)):
        picks = rng.sample(range(len(sentences)), 3)
        text = " ".join(sentences[p][1] for p in picks)
        row = len(chunks)
        chunks.append(Chunk(id=f"syn{row}", source=f"synthetic/{row // 20}.md", heading="합성 문서", text=text,
                            ordinal=row % 20))
        tokens.append(heading_tokens + [t for p in picks for t in sentence_tokens[p]])
        v = kb.vectors[[sentences[p][0] for p in picks]].mean(axis=0) + noise.normal(0, 0.02, kb.vectors.shape[1])
        vectors[row] = v / np.linalg.norm(v)
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    print(f"\n{len(chunks)}-chunk corpus built in {time.perf_counter() - t0:.1f}s")
    return KnowledgeBase(f"synthetic-{n}", Path("."), chunks, vectors[:len(chunks)], bm25)


def memory_report(kb) -> str:  # noqa: ANN001
    """Bytes held by the KB's indexes and the process's peak RSS."""
    import resource

    bm25_bytes = sum(a.nbytes for a in kb.bm25.scores.values() if isinstance(a, np.ndarray)) if kb.bm25 else 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (f"memory: dense {kb.vectors.nbytes / 2**20:.1f} MiB ({kb.vectors.dtype}), BM25 index "
            f"{bm25_bytes / 2**20:.1f} MiB; process peak RSS {peak:.0f} MiB")


def score_arrays(kb, items) -> list[tuple[np.ndarray, np.ndarray]]:  # noqa: ANN001
    """(dense, bm25) score arrays of every question, computed once so fusions can be compared and tuned."""
    return [(kb.dense_scores(q), kb.bm25_scores(q)) for q, _, _ in items]


def fused_quality(kb, items, arrays, fusion) -> dict:  # noqa: ANN001
    """Recall@1/@5 and MRR@10 by source of ``fusion(dense, bm25) -> ranked chunk indices`` (no latency)."""
    def ranked(i):  # noqa: ANN001, ANN202
        order = fusion(*arrays[i])
        return [(kb.chunks[j].source, kb.chunks[j].heading) for j in order]

    lookup = {q: i for i, (q, _, _) in enumerate(items)}
    return evaluate("", lambda q: ranked(lookup[q]), items)


def fusions() -> dict:
    """The ranked-index functions compared on large corpora (dense, BM25, RRF, score fusion)."""
    from sangdam.knowledge.retrieval import _top, fuse, rrf

    def by_rrf(d, b):  # noqa: ANN001, ANN202
        fused = rrf([_top(d, 50), [i for i in _top(b, 50) if b[i] > 0]], len(d))
        return [i for i in _top(fused, 10) if fused[i] > 0]

    return {
        "kiwi BM25": lambda d, b: [i for i in _top(b, 10) if b[i] > 0],
        "dense (e5)": lambda d, b: _top(d, 10),
        "hybrid (RRF)": by_rrf,
        "hybrid (score)": lambda d, b: _top(fuse(d, b), 10),
    }


def split(items):  # noqa: ANN001, ANN201
    """(dev, held-out): even and odd question indexes."""
    return items[0::2], items[1::2]


def quality_table(kb, items, title: str) -> None:  # noqa: ANN001
    """Recall on dev and held-out halves for every fusion."""
    dev, held = split(items)
    arrays = score_arrays(kb, items)
    index = {q: i for i, (q, _, _) in enumerate(items)}
    print(f"\n{title}")
    print(f"{'method':<18}{'dev r@1':>9}{'dev r@5':>9}{'held r@1':>10}{'held r@5':>10}{'all r@1':>9}{'all r@5':>9}")
    for name, fusion in fusions().items():
        cells = []
        for subset in (dev, held, items):
            sub_arrays = [arrays[index[q]] for q, _, _ in subset]
            r = fused_quality(kb, subset, sub_arrays, fusion)
            cells += [r["recall@1"], r["recall@5"]]
        print(f"{name:<18}{cells[0]:>9.3f}{cells[1]:>9.3f}{cells[2]:>10.3f}{cells[3]:>10.3f}{cells[4]:>9.3f}"
              f"{cells[5]:>9.3f}")


def sweep_weight(kbs, items) -> None:  # noqa: ANN001
    """Recall of score fusion on the dev half for a range of BM25 weights, on each of ``kbs``."""
    from sangdam.knowledge.retrieval import _top, fuse

    dev, held = split(items)
    for kb in kbs:
        arrays_dev, arrays_held = score_arrays(kb, dev), score_arrays(kb, held)
        print(f"\nBM25 weight sweep on {len(kb.chunks)} chunks (dev | held-out)")
        for w in (0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1):
            f = lambda d, b, w=w: _top(fuse(d, b, w), 10)  # noqa: E731
            a, b = fused_quality(kb, dev, arrays_dev, f), fused_quality(kb, held, arrays_held, f)
            print(f"  w={w:<6} dev r@1 {a['recall@1']:.3f} r@5 {a['recall@5']:.3f} MRR {a['MRR']:.3f} | "
                  f"held r@1 {b['recall@1']:.3f} r@5 {b['recall@5']:.3f} MRR {b['MRR']:.3f}")


def latency_table(kb, items) -> None:  # noqa: ANN001
    """p50/p95 of ``kb.search`` per mode: end to end (e5 query encoding included), and index-side only (the
    query vectors encoded beforehand), which is the part that grows with the corpus."""
    import sangdam.knowledge.embedding as embedding

    encode = embedding.embed_query
    vectors = {q: encode(q) for q, _, _ in items}
    print(f"{'mode':<18}{'p50 ms':>9}{'p95 ms':>9}{'index p50':>11}{'index p95':>11}")
    for mode in ("bm25", "dense", "hybrid"):
        cells = []
        for patched in (False, True):
            embedding.embed_query = vectors.__getitem__ if patched else encode
            latencies = []
            for q, _, _ in items:
                t0 = time.perf_counter()
                kb.search(q, 10, mode=mode)
                latencies.append((time.perf_counter() - t0) * 1000)
            cells += [percentile(latencies, 50), percentile(latencies, 95)]
        embedding.embed_query = encode
        print(f"{mode:<18}{cells[0]:>9.1f}{cells[1]:>9.1f}{cells[2]:>11.1f}{cells[3]:>11.1f}")


def encode_latency(items) -> None:  # noqa: ANN001
    """e5 query encoding alone: the floor under dense and hybrid latency at any corpus size."""
    from sangdam.knowledge.embedding import embed_query

    latencies = []
    for q, _, _ in items:
        t0 = time.perf_counter()
        embed_query(q)
        latencies.append((time.perf_counter() - t0) * 1000)
    print(f"e5 query encoding alone: p50 {percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms")


QUICK_SOURCES = 3  # question groups (so documents) kept in --quick


def quick_kb():  # noqa: ANN201
    """A small KB of the first question groups' documents in a temporary SANGDAM_HOME (for --quick)."""
    import os
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    os.environ["SANGDAM_HOME"] = str(home)
    from sangdam.knowledge.demo import stage_demo_documents
    from sangdam.knowledge.store import ingest_directory

    items, ood, heldout = load_questions()
    data = yaml.safe_load((HERE / "questions.yaml").read_text(encoding="utf-8"))
    keep = {src for group in data["in_domain"][:QUICK_SOURCES] for src in group["sources"]}
    docs = stage_demo_documents(home / "docs")
    for path in [p for p in docs.rglob("*") if p.is_file()]:
        if path.relative_to(docs).as_posix() not in keep:
            path.unlink()
    report = ingest_directory(docs, "bench-quick")
    items = [it for it in items if set(it[1]) <= keep]
    return "bench-quick", report, items, ood[:5], heldout[:3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kb", default="default")
    parser.add_argument("--sizes", default="10000,100000", help="synthetic corpus sizes, comma-separated ('' for none)")
    parser.add_argument("--skip-10k", action="store_true", help="same as --sizes ''")
    parser.add_argument("--sweep", action="store_true", help="sweep refusal thresholds and the BM25 weight")
    parser.add_argument("--quick", action="store_true", help="seconds: 3 documents, a 2k corpus (make test)")
    args = parser.parse_args()
    sizes = [] if args.skip_10k else [int(x) for x in args.sizes.split(",") if x]

    if args.quick:
        name, report, items, ood, heldout = quick_kb()
        sizes = [2000]
    else:
        from sangdam.knowledge.demo import build_demo

        name = args.kb
        report = build_demo(name)
        items, ood, heldout = load_questions()
    from sangdam.knowledge.answer import answer
    from sangdam.knowledge.retrieval import KnowledgeBase, load_kb

    print(f"demo KB: {report.files_seen} files, {report.chunks_total} chunks; {len(items)} questions, "
          f"{len(ood)} out-of-domain")
    t0 = time.perf_counter()
    kb = KnowledgeBase.open(load_kb(name).path, name)
    print(f"cold KB load (chunks + vectors + bm25s): {(time.perf_counter() - t0) * 1000:.0f} ms")
    kb.search("워밍업 질문")  # load kiwi and e5 once

    def as_pairs(hits):  # noqa: ANN001, ANN202
        return [(h.source, h.heading) for h in hits]

    ws = WhitespaceBM25(kb.chunks)
    rows = [
        evaluate("whitespace BM25", lambda q: [(kb.chunks[i].source, kb.chunks[i].heading) for i in ws.search(q, 10)], items),
        evaluate("kiwi BM25", lambda q: as_pairs(kb.search(q, 10, mode="bm25")), items),
        evaluate("dense (e5)", lambda q: as_pairs(kb.search(q, 10, mode="dense")), items),
        evaluate("hybrid (score)", lambda q: as_pairs(kb.search(q, 10, mode="hybrid")), items),
    ]
    print_table(rows, f"demo KB ({len(kb.chunks)} chunks, {len(items)} questions)")
    for r in rows:
        if r["misses"]:
            print(f"  {r['method']} misses@10 ({len(r['misses'])}): {r['misses'][:8]}")
    quality_table(kb, items, "demo KB by fusion (dev = even questions, held = odd)")

    refusal_report(kb, items, ood, args.sweep)
    refused = [q for q in heldout if not answer(q, kb).grounded]
    print(f"  held-out out-of-domain refused by answer(): {len(refused)}/{len(heldout)}; answered: "
          f"{[q for q in heldout if q not in refused]}")

    latencies = []
    for q, _, _ in items[:10 if args.quick else 60]:
        t0 = time.perf_counter()
        answer(q, kb)
        latencies.append((time.perf_counter() - t0) * 1000)
    print(f"\nextractive answer(): p50 {percentile(latencies, 50):.0f} ms, p95 {percentile(latencies, 95):.0f} ms")
    encode_latency(items)

    big_kbs = []
    for n in sizes:
        big = synthetic_kb(kb, n)
        quality_table(big, items, f"{len(big.chunks)} chunks (synthetic distractors), recall by source")
        print(f"latency, {len(items)} questions, end to end (e5 query encoding included):")
        latency_table(big, items)
        print(memory_report(big))
        if n <= 10_000:
            big_kbs.append(big)
        del big
    if args.sweep:
        sweep_weight([kb, *big_kbs], items)


if __name__ == "__main__":
    main()
