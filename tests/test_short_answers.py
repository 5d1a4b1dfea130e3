"""Short answers with an interjection ("아 취소", "음 네 해주세요", "그거 취소해 주세요") are answers to the open
proposal, not new requests: found by a stranger's conversation, where "아 취소" to a roaming pass declined it and
then proposed turning roaming *off* (the word was routed as roaming.disable)."""

from __future__ import annotations

import pytest
from orchestrator_fixtures import orchestrator
from sqlalchemy import Engine

from sangdam.orchestrator import dialogue


@pytest.mark.parametrize(("text", "short", "negative"), [
    ("아 취소", True, True),
    ("아 취소할게요", True, True),
    ("그거 취소해 주세요", True, True),
    ("음 네 해주세요", True, False),
    ("아 그걸로요", True, False),
    ("아시아 5일", False, False),  # a pass name starting with 아: no interjection
    ("아 근데 요금 얼마예요", False, False),
])
def test_an_interjection_before_the_answer_is_no_content(text: str, short: bool, negative: bool) -> None:
    assert dialogue.is_short_answer(text) is short
    assert dialogue.is_negative(text) is negative


@pytest.mark.parametrize("answer", ["아 취소", "앗 취소할게요", "그거 취소해 주세요"])
def test_a_cancel_with_an_interjection_declines_and_starts_nothing(db_engine: Engine, answer: str) -> None:
    orch = orchestrator(db_engine)
    conv = orch.start_conversation(customer_id="C1")
    proposed = orch.handle(conv, "일본 로밍 3일짜리 켜주세요")
    assert proposed.pending_action is not None
    out = orch.handle(conv, answer)
    assert out.pending_action is None and "진행하지 않았" in out.reply, out.reply
    assert [c.name for c in out.tool_calls if c.status == "proposed"] == []
    assert out.intents == []  # nothing routed: the words were only the answer
