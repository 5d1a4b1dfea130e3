"""Load on the web chat: many open chat pages at once lose no message (issue 10, item 4).

A real uvicorn server with the production default rate limit (120 requests a minute); the clients behave like
the chat page (a web-chat session each, server-push stream, idempotent sends retried on failure), all from one
address — e.g. customers behind one office NAT.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from sangdam.domain.conversation_models import Message
from sangdam.domain.db import session_scope
from sangdam.server.app import DEFAULT_RATE_PER_MINUTE, create_app
from server_support import TODAY, make_server_world, running_server
from web_chat_clients import ClientReport, web_chat_client

CLIENTS = 50
TEXTS = ["이번 달 요금 얼마 나왔어요?", "데이터 얼마나 남았어요?", "로밍 요금제 알려주세요"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Iterator[tuple[list[ClientReport], object]]:  # noqa: ANN001
    engine = make_server_world(tmp_path_factory.mktemp("load") / "sangdam.db")
    async def run(base: str) -> list[ClientReport]:
        limits = httpx.Limits(max_connections=4 * CLIENTS, max_keepalive_connections=4 * CLIENTS)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(web_chat_client(client, None, TEXTS, think_s=0.2) for _ in range(CLIENTS)))

    try:
        with running_server(create_app(engine, today=TODAY, rate_per_minute=DEFAULT_RATE_PER_MINUTE)) as base:
            yield asyncio.run(run(base)), engine
    finally:
        engine.dispose()


def test_fifty_chat_pages_from_one_address_lose_no_message(loaded) -> None:  # noqa: ANN001
    reports, engine = loaded
    with session_scope(engine) as s:
        stored = {r.conversation: [m.text for m in s.scalars(
            select(Message).where(Message.conversation_id == r.conversation, Message.role == "customer")
            .order_by(Message.idx))] for r in reports}
    assert len(reports) == CLIENTS and all(r.conversation for r in reports)
    lost = [(r.conversation, t) for r in reports for t in r.sent if t not in stored[r.conversation]]
    assert lost == []
    assert all(stored[r.conversation] == TEXTS for r in reports)  # each message stored exactly once, in order
    assert [r.failed for r in reports if r.failed] == []


def test_every_reply_reaches_its_page_over_server_push(loaded) -> None:  # noqa: ANN001
    reports, _ = loaded
    assert sum(len(r.seen_ms) for r in reports) == CLIENTS * len(TEXTS)
    assert all(sorted(r.seen.values()).count("bot") == len(TEXTS) for r in reports)
    assert [e for r in reports for e in r.errors] == []
    assert sum(r.retries for r in reports) == 0  # no send was refused (429) or failed on the way
