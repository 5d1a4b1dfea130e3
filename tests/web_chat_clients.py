"""Browser-like web-chat clients for load tests (pytest and ``bench/load/web_chat_load.py``).

Each client does what one open chat page does, over HTTP: with no key it opens its own web-chat session
(``POST /api/v1/sessions``, today's page); given a ``customer-channel`` key it uses that instead (the page before
sessions, when every page shared one key).

- ``push`` (today's page): open a conversation, hold the server-push stream (``GET …/events``) open, send each
  message with an ``Idempotency-Key`` and retry it on a network error, 429, 409 busy or 5xx, with back-off;
- ``poll`` (the page before server push): poll ``GET …?after=N`` every 1.5 s and send each message once, no
  retry — what lost messages when a few tabs shared a key's rate limit.

A report says what the customer sent, what the server accepted, what was given up, and the latencies
(send → checked reply; send → the reply seen on the push stream or by a poll).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Literal

import httpx

POLL_S = 1.5
TRIES = 5


@dataclass
class ClientReport:
    """What one simulated chat page saw."""

    conversation: str | None = None  # None: the page could not open a conversation (shows an error)
    sent: list[str] = field(default_factory=list)  # what the customer pressed "send" for
    accepted: list[str] = field(default_factory=list)  # answered 200 by the server
    failed: list[str] = field(default_factory=list)  # given up after the retries (the page shows an error)
    retries: int = 0
    retry_causes: list[str] = field(default_factory=list)  # status code or exception name of each retried attempt
    reply_ms: list[float] = field(default_factory=list)  # send → the checked reply (response of the send)
    seen_ms: list[float] = field(default_factory=list)  # send → the reply arrived on the stream / in a poll
    seen: dict[int, str] = field(default_factory=dict)  # message index → role, as the page received them
    errors: list[str] = field(default_factory=list)


class _Page:
    """The page's view of the conversation: messages by index, and an event for "something arrived"."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.changed = asyncio.Event()

    def add(self, message: dict, report: ClientReport) -> None:
        report.seen[message["idx"]] = message["role"]
        self.arrived.setdefault(message["idx"], time.perf_counter())
        self.changed.set()

    async def wait_for(self, idx: int, timeout_s: float) -> float | None:
        deadline = time.perf_counter() + timeout_s
        while idx not in self.arrived:
            self.changed.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                return None
        return self.arrived[idx]


def _retryable(status: int | None) -> bool:
    return status is None or status in (409, 429) or status >= 500


async def _with_retries(send, report: ClientReport, tries: int):  # noqa: ANN001, ANN202 - async callable
    """The page's retry loop: back-off 0.5, 1, 2, 4 s (or the server's Retry-After, if longer)."""
    for attempt in range(1, tries + 1):
        try:
            res = await send()
            status, wait = res.status_code, float(res.headers.get("retry-after") or 0)
            if res.status_code < 400:
                return res
        except httpx.HTTPError as exc:
            status, wait, res = None, 0.0, exc
        if not _retryable(status) or attempt == tries:
            return res
        report.retries += 1
        report.retry_causes.append(str(status) if status else type(res).__name__)
        await asyncio.sleep(max(wait, 0.5 * 2 ** (attempt - 1)))
    return None


async def _stream(client: httpx.AsyncClient, headers: dict, conv: str, page: _Page, report: ClientReport) -> None:
    """Hold the push stream open (reconnecting after the last index seen), like ``Sangdam.listen``."""
    while True:
        after = max(page.arrived, default=-1)
        try:
            async with client.stream("GET", f"/api/v1/conversations/{conv}/events?after={after}",
                                     headers={**headers, "Accept": "text/event-stream"}, timeout=None) as res:
                if res.status_code != 200:
                    report.errors.append(f"stream {res.status_code}")
                    await asyncio.sleep(1.0)
                    continue
                event = ""
                async for line in res.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "message":
                        page.add(json.loads(line[6:]), report)
        except httpx.HTTPError as exc:
            report.errors.append(f"stream {type(exc).__name__}")
            await asyncio.sleep(0.5)


async def _poll(client: httpx.AsyncClient, headers: dict, conv: str, page: _Page, report: ClientReport) -> None:
    """The old page: ``GET …?after=N`` every 1.5 s."""
    while True:
        after = max(page.arrived, default=-1)
        try:
            res = await client.get(f"/api/v1/conversations/{conv}?after={after}", headers=headers)
            if res.status_code == 200:
                for message in res.json()["messages"]:
                    page.add(message, report)
        except httpx.HTTPError:
            pass
        await asyncio.sleep(POLL_S)


async def web_chat_client(client: httpx.AsyncClient, key: str | None, texts: list[str], *, think_s: float = 0.0,
                          mode: Literal["push", "poll"] = "push", reply_timeout_s: float = 60.0) -> ClientReport:
    """One chat page: open a session (``key`` None), a conversation, listen, send ``texts`` one after another
    (``think_s`` apart)."""
    report = ClientReport()
    tries = TRIES if mode == "push" else 1
    if key is None:
        res = await _with_retries(lambda: client.post("/api/v1/sessions", json={}), report, tries)
        if not isinstance(res, httpx.Response) or res.status_code != 201:
            report.errors.append(f"session: {getattr(res, 'status_code', type(res).__name__)}")
            return report
        key = res.json()["token"]
    headers = {"Authorization": f"Bearer {key}"}
    res = await _with_retries(lambda: client.post("/api/v1/conversations", json={"channel": "web"}, headers=headers),
                              report, tries)
    if not isinstance(res, httpx.Response) or res.status_code != 201:  # the page stays on its error: nothing typed
        report.errors.append(f"open: {getattr(res, 'status_code', type(res).__name__)}")
        return report
    conv = report.conversation = res.json()["id"]
    page = _Page()
    listener = asyncio.create_task((_stream if mode == "push" else _poll)(client, headers, conv, page, report))
    try:
        for text in texts:
            await asyncio.sleep(think_s)
            await _send(client, headers, conv, text, page, report, tries, reply_timeout_s)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    return report


async def _send(client: httpx.AsyncClient, headers: dict, conv: str, text: str, page: _Page, report: ClientReport,
                tries: int, reply_timeout_s: float) -> None:
    report.sent.append(text)
    send_headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
    t0 = time.perf_counter()
    res = await _with_retries(lambda: client.post(f"/api/v1/conversations/{conv}/messages", json={"text": text},
                                                  headers=send_headers), report, tries)
    if not isinstance(res, httpx.Response) or res.status_code != 200:
        report.failed.append(text)
        report.errors.append(f"send: {getattr(res, 'status_code', type(res).__name__)}")
        return
    report.accepted.append(text)
    report.reply_ms.append((time.perf_counter() - t0) * 1000)
    body = res.json()
    reply_idx = body.get("reply_idx")  # the poll-era server does not say: no "seen" latency then
    if reply_idx is not None:
        seen_at = await page.wait_for(reply_idx, reply_timeout_s)
        if seen_at is None:
            report.errors.append(f"reply {reply_idx} never arrived")
        else:
            report.seen_ms.append((seen_at - t0) * 1000)
