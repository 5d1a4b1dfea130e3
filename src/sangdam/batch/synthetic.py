"""Generated conversations for batch tests and benchmarks: rows written straight into ``conversations``,
``messages``, ``turn_traces`` and ``turn_intents`` in the shape the orchestrator stores (masked text, one trace per
turn with intents, tool calls, reply), cheaply enough for 100k. Not customer traffic: ``sangdam demo traffic``
drives the real orchestrator for that."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Engine, insert

from sangdam.domain.conversation_models import Conversation, Message, TurnTrace
from sangdam.domain.db import session_scope
from sangdam.domain.insight_models import TurnIntent

# (customer message, routed intent, tool calls, bot reply) turns of a few typical conversations
_PATTERNS: list[list[tuple[str, str, list[dict[str, Any]], str]]] = [
    [("이번 달 요금 얼마 나왔어요?", "billing.bill", [{"name": "get_bills", "status": "ok", "args": {}}],
      "이번 달 청구 금액은 55,000원입니다."),
     ("감사합니다", "chitchat", [], "감사합니다. 좋은 하루 되세요.")],
    [("요금제 바꾸고 싶어요", "plan.change", [{"name": "change_plan", "status": "proposed", "args": {"plan_id": "P-5G-STD"}}],
      "5G 스탠다드로 변경할까요?"),
     ("네", "plan.change", [{"name": "change_plan", "status": "ok", "args": {"plan_id": "P-5G-STD"}}],
      "요금제를 변경했습니다.")],
    [("데이터 2기가 충전해 주세요", "data.refill", [{"name": "refill_data", "status": "ok", "args": {"gb": 2}}],
      "데이터 2GB를 충전했습니다.")],
    [("인터넷이 너무 느려요 짜증나요", "tech.troubleshoot", [], "불편을 드려 죄송합니다. 기기를 재부팅해 보시겠어요?"),
     ("상담원 연결해 주세요", "agent.human", [{"name": "transfer_to_human", "status": "ok", "args": {},
                                         "result": {"ticket_id": "T-1"}}], "상담원에게 연결해 드리겠습니다.")],
    [("주식 추천해 주세요", "out_of_scope", [], "죄송하지만 통신 서비스 상담만 도와드릴 수 있어요.")],
]


def insert_synthetic_conversations(engine: Engine, count: int, *, first_day: dt.date, days: int = 1,
                                   chunk: int = 2000) -> list[str]:
    """Insert ``count`` conversations spread evenly over ``days`` days from ``first_day``; return their ids."""
    ids: list[str] = []
    for start in range(0, count, chunk):
        convs, messages, traces, intents = [], [], [], []
        for n in range(start, min(count, start + chunk)):
            conv_id = "CV-" + uuid.uuid4().hex[:16]
            ids.append(conv_id)
            at = dt.datetime.combine(first_day + dt.timedelta(days=n % days), dt.time(9)) + dt.timedelta(seconds=n)
            pattern = _PATTERNS[n % len(_PATTERNS)]
            convs.append({"id": conv_id, "channel": "api", "customer_id": "C-DEMO-1", "verified_customer_id":
                          "C-DEMO-1", "mode": "bot", "state": {"turn_index": len(pattern)}, "created_at": at,
                          "updated_at": at})
            for turn, (user, intent, calls, reply) in enumerate(pattern):
                messages += [{"conversation_id": conv_id, "idx": 2 * turn, "role": "customer", "text": user, "at": at},
                             {"conversation_id": conv_id, "idx": 2 * turn + 1, "role": "bot", "text": reply, "at": at}]
                traces.append({"id": "TR-" + uuid.uuid4().hex[:16], "conversation_id": conv_id, "turn_index": turn + 1,
                               "at": at, "data": {"user": user, "reply": reply, "intents": [intent], "via": "classifier",
                                                  "tool_calls": calls, "latency_ms": {"total": 40.0}}})
                intents.append({"conversation_id": conv_id, "turn_index": turn + 1, "intent": intent,
                                "via": "classifier", "at": at})
        with session_scope(engine) as s:
            for model, rows in ((Conversation, convs), (Message, messages), (TurnTrace, traces), (TurnIntent, intents)):
                s.execute(insert(model), rows)
    return ids
