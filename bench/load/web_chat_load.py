"""Load test of the customer web chat: N open chat pages, each with its own web-chat session (as the page opens
one), counting lost messages; ``--shared-key`` runs them on ONE customer-channel key instead (the page before
sessions).

Starts a real uvicorn server in a thread on a fresh test database with the production default rate limit
(``--rate``, 120 requests a minute), then for each N runs N browser-like clients at once
(``tests/web_chat_clients.py``): each opens a session and a conversation, holds the server-push stream, and sends
``--messages`` messages ``--think`` seconds apart, retrying like the page does. The load generator runs in a
separate process (no shared GIL with the server). ``--addresses K`` spreads the clients over K loopback source
addresses (127.0.0.2 …); the default 1 is the worst case, every customer behind one NAT.
``--mode poll`` runs clients that behave like the page before server push (poll every 1.5 s, no retry).

A message is *lost* when the customer pressed send and it is not stored in the conversation afterwards;
*unopened* counts pages that could not even open a conversation (refused, the page shows an error).

    .venv/bin/python bench/load/web_chat_load.py --clients 50 100 200 --messages 3
    .venv/bin/python bench/load/web_chat_load.py --quick     # smoke run: 5 pages × 2 messages
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

TODAY = dt.date(2026, 11, 29)
TEXTS = ["이번 달 요금 얼마 나왔어요?", "데이터 얼마나 남았어요?", "로밍 요금제 알려주세요", "약정 언제 끝나요?"]


async def level(base: str, key: str | None, n: int, messages: int, think_s: float, mode: str, addresses: int) -> dict:
    from web_chat_clients import web_chat_client

    texts = [TEXTS[i % len(TEXTS)] for i in range(messages)]
    per_address = -(-n // addresses)
    limits = httpx.Limits(max_connections=4 * per_address, max_keepalive_connections=4 * per_address)
    clients = [httpx.AsyncClient(base_url=base, timeout=120, limits=limits,
                                 transport=httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + a}", limits=limits))
               for a in range(addresses)] if addresses > 1 else [httpx.AsyncClient(base_url=base, timeout=120, limits=limits)]
    t0 = time.perf_counter()
    try:
        reports = await asyncio.gather(*(web_chat_client(clients[i % len(clients)], key, texts, think_s=think_s, mode=mode)
                                         for i in range(n)))
    finally:
        for c in clients:
            await c.aclose()
    return {"reports": reports, "wall_s": time.perf_counter() - t0}


def run_level(*args: object) -> dict:
    """One level, in a separate process so the load generator does not share the server's GIL."""
    return asyncio.run(level(*args))  # type: ignore[arg-type]


def stored_customer_texts(engine, conversations: list[str | None]) -> dict[str, list[str]]:  # noqa: ANN001
    from sqlalchemy import select

    from sangdam.domain.conversation_models import Message
    from sangdam.domain.db import session_scope

    with session_scope(engine) as s:
        rows = s.execute(select(Message.conversation_id, Message.text).where(
            Message.conversation_id.in_([c for c in conversations if c]), Message.role == "customer")
            .order_by(Message.conversation_id, Message.idx)).all()
    out: dict[str, list[str]] = {}
    for conv, text in rows:
        out.setdefault(conv, []).append(text)
    return out


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--messages", type=int, default=3)
    ap.add_argument("--think", type=float, default=0.5, help="seconds between a reply and the next message")
    ap.add_argument("--mode", choices=["push", "poll"], default="push")
    ap.add_argument("--addresses", type=int, default=1)
    ap.add_argument("--rate", type=int, default=120, help="server rate limit per subject and minute (0 = off)")
    ap.add_argument("--shared-key", action="store_true", help="all pages on one customer-channel key, no sessions")
    ap.add_argument("--quick", action="store_true", help="smoke run: one level of 5 pages, 2 messages 0.1 s apart")
    args = ap.parse_args()
    if args.quick:
        args.clients, args.messages, args.think = [5], 2, 0.1

    from sangdam.orchestrator.router import get_intent_model
    from sangdam.server.app import create_app
    from sangdam.server.auth import RateLimiter
    from sangdam.server.keys import create_key
    from server_support import make_server_world, running_server

    engine = make_server_world(Path(tempfile.mkdtemp(prefix="sangdam-webload-")) / "sangdam.db")
    key = create_key(engine, "customer-channel").key if args.shared_key else None  # None: a session per page
    get_intent_model()
    app = create_app(engine, today=TODAY, rate_per_minute=args.rate)
    print(f"mode={args.mode} messages/client={args.messages} think={args.think}s rate={args.rate}/min "
          f"addresses={args.addresses} {'one shared key' if key else 'a session per page'}")
    print(f"{'clients':>7} {'unopened':>8} {'sent':>5} {'lost':>5} {'failed':>6} {'retries':>7} {'wall s':>7} "
          f"{'reply p50':>9} {'p95':>7} {'push p50':>9} {'p95':>7}  retried/failed because")
    with running_server(app) as base:
        asyncio.run(level(base, key, 2, 1, 0, "push", 1))  # warm-up: kiwi, agents
        spawn = multiprocessing.get_context("spawn")
        for n in args.clients:
            app.state.rate_limiter = RateLimiter(args.rate)  # each level starts with full buckets
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                out = pool.submit(run_level, base, key, n, args.messages, args.think, args.mode, args.addresses).result()
            reports = out["reports"]
            stored = stored_customer_texts(engine, [r.conversation for r in reports])
            sent = sum(len(r.sent) for r in reports)
            lost = sum(1 for r in reports for t in r.sent if t not in stored.get(r.conversation or "", []))
            reply = [x for r in reports for x in r.reply_ms]
            seen = [x for r in reports for x in r.seen_ms]
            unopened = sum(1 for r in reports if r.conversation is None)
            print(f"{n:>7} {unopened:>8} {sent:>5} {lost:>5} {sum(len(r.failed) for r in reports):>6} "
                  f"{sum(r.retries for r in reports):>7} {out['wall_s']:>7.1f} {pct(reply, 50):>7.0f}ms "
                  f"{pct(reply, 95):>5.0f}ms {pct(seen, 50):>7.0f}ms {pct(seen, 95):>5.0f}ms  "
                  f"{dict(Counter(c for r in reports for c in r.retry_causes + r.errors).most_common(4))}", flush=True)


if __name__ == "__main__":
    main()
