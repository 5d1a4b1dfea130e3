"""On-disk layout of a knowledge base under ``SANGDAM_HOME/kb/<name>/`` and incremental ingestion.

    manifest.json   format, embedder, ingested directory, and per file: sha256 + chunk count
    chunks.jsonl    one Chunk per line, in index order
    dense.npy       float32 (n_chunks, 384), row i embeds chunk i
    bm25/           bm25s index over kiwi morphemes of each chunk's heading + text

Re-ingest is incremental: a file whose sha256 is unchanged keeps its chunks and vectors; vectors are reused
for any chunk whose passage text was embedded before; removed files are dropped. The new index is written to
a sibling folder and swapped in, so a failed ingest never leaves a half-written KB.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sangdam.knowledge.chunking import chunk_blocks
from sangdam.knowledge.embedding import DIM, EMBEDDER_ID
from sangdam.knowledge.loaders import UnreadableDocument, format_of, load_blocks
from sangdam.knowledge.models import Chunk, IngestReport, SkippedFile

FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class KnowledgeBaseError(Exception):
    """Operator-facing error (English) about a knowledge base: bad name, missing KB, bad directory."""


def kb_root() -> Path:
    """``SANGDAM_HOME/kb``."""
    from sangdam.config import get_settings

    return get_settings().kb_dir


def kb_path(name: str) -> Path:
    """Folder of the knowledge base ``name`` (validated: letters, digits, ``_.-``)."""
    if not _NAME.match(name):
        raise KnowledgeBaseError(f"invalid knowledge base name {name!r}: use letters, digits, '_', '-', '.'")
    return kb_root() / name


def read_manifest(path: Path) -> dict | None:
    """The manifest of the KB at ``path`` or None when there is no KB there."""
    file = path / "manifest.json"
    if not file.exists():
        return None
    return json.loads(file.read_text(encoding="utf-8"))


def read_chunks(path: Path) -> list[Chunk]:
    """All chunks of the KB at ``path``, in index order."""
    with (path / "chunks.jsonl").open(encoding="utf-8") as fh:
        return [Chunk.model_validate_json(line) for line in fh if line.strip()]


def _passage_key(chunk: Chunk) -> str:
    return hashlib.sha1(chunk.passage_text().encode()).hexdigest()


def ingest_directory(directory: Path, name: str, on_progress: Progress | None = None) -> IngestReport:
    """Ingest every supported file under ``directory`` into the KB ``name``; return what happened."""
    directory = Path(directory)
    if not directory.is_dir():
        raise KnowledgeBaseError(f"not a directory: {directory}")
    target = kb_path(name)
    progress = on_progress or (lambda stage, done, total: None)
    report = IngestReport(kb=name)

    old_manifest = read_manifest(target) or {}
    reusable = old_manifest.get("format") == FORMAT_VERSION and old_manifest.get("embedder") == EMBEDDER_ID
    old_files: dict[str, dict] = old_manifest.get("files", {}) if reusable else {}
    old_chunks = read_chunks(target) if reusable else []
    old_vectors = np.load(target / "dense.npy") if reusable and old_chunks else np.zeros((0, DIM), np.float32)
    vector_by_key = {_passage_key(c): old_vectors[i] for i, c in enumerate(old_chunks)}
    old_by_source: dict[str, list[Chunk]] = {}
    for chunk in old_chunks:
        old_by_source.setdefault(chunk.source, []).append(chunk)

    files = sorted(p for p in directory.rglob("*") if p.is_file() and not _hidden(p.relative_to(directory)))
    report.files_seen = len(files)
    new_files: dict[str, dict] = {}
    chunks: list[Chunk] = []
    for done, file in enumerate(files, start=1):
        progress("read", done, len(files))
        source = file.relative_to(directory).as_posix()
        if format_of(file) is None:
            report.skipped.append(SkippedFile(source=source, reason=f"unsupported type ({file.suffix or 'no extension'})"))
            continue
        try:
            data = file.read_bytes()
        except OSError as exc:
            report.skipped.append(SkippedFile(source=source, reason=f"unreadable: {exc.strerror or exc}"))
            continue
        if not data.strip():
            report.skipped.append(SkippedFile(source=source, reason="empty"))
            continue
        digest = hashlib.sha256(data).hexdigest()
        if old_files.get(source, {}).get("sha256") == digest and source in old_by_source:
            chunks.extend(old_by_source[source])
            new_files[source] = old_files[source]
            report.files_unchanged += 1
            continue
        try:
            doc_chunks = chunk_blocks(source, load_blocks(file, data))
        except UnreadableDocument as exc:
            report.skipped.append(SkippedFile(source=source, reason=f"unreadable: {exc}"))
            continue
        if not doc_chunks:
            report.skipped.append(SkippedFile(source=source, reason="empty (no text found)"))
            continue
        chunks.extend(doc_chunks)
        new_files[source] = {"sha256": digest, "chunks": len(doc_chunks)}
        report.files_indexed += 1
    report.files_removed = len(set(old_files) - set(new_files))
    report.chunks_total = len(chunks)

    if report.files_indexed == 0 and report.files_removed == 0 and reusable and len(chunks) == len(old_chunks):
        return report  # nothing changed: keep the index as it is (fast second run)

    vectors = _vectors_for(chunks, vector_by_key, report, progress)
    _write(target, directory, chunks, vectors, new_files, progress)
    return report


def _hidden(relative: Path) -> bool:
    return any(part.startswith((".", "~")) for part in relative.parts)


def _vectors_for(chunks: list[Chunk], cache: dict[str, np.ndarray], report: IngestReport,
                 progress: Progress) -> np.ndarray:
    from sangdam.knowledge.embedding import embed_passages

    vectors = np.zeros((len(chunks), DIM), dtype=np.float32)
    missing = []
    for i, chunk in enumerate(chunks):
        key = _passage_key(chunk)
        if key in cache:
            vectors[i] = cache[key]
        else:
            missing.append(i)
    report.chunks_embedded = len(missing)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        progress("embed", done, len(missing))

    if missing:
        new = embed_passages([chunks[i].passage_text() for i in missing], on_batch=tick)
        vectors[missing] = new
    return vectors


def _write(target: Path, directory: Path, chunks: list[Chunk], vectors: np.ndarray, files: dict[str, dict],
           progress: Progress) -> None:
    import bm25s

    from sangdam.korean.analyzer import tokenize_for_search

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
    staging = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with (staging / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(chunk.model_dump_json() + "\n")
    np.save(staging / "dense.npy", vectors)
    corpus_tokens = []
    for i, chunk in enumerate(chunks, start=1):
        corpus_tokens.append(tokenize_for_search(chunk.passage_text()) or ["∅"])
        if i % 50 == 0 or i == len(chunks):
            progress("index", i, len(chunks))
    if chunks:
        retriever = bm25s.BM25()
        retriever.index(corpus_tokens, show_progress=False)
        retriever.save(str(staging / "bm25"), show_progress=False)
    manifest = {"format": FORMAT_VERSION, "embedder": EMBEDDER_ID, "directory": str(directory.resolve()),
                "chunks": len(chunks), "files": files}
    (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    # Swap in the new index; the old one is removed only after the new one is in place.
    old = target.with_name(f"{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
