"""Streaming the LLM agent's progress and its verified answer (issue 14, item 5).

A scripted model that may act (``agentic``) and ignores the schema it is sent answers for the agent; a pinned router
sends the request to it. Over a real server, the conversation's SSE stream must carry ``progress`` lines (fixed
texts, no PII, never stored) while the agent works, then the stored, verified reply in ``delta`` pieces, then its
``message``; an ordinary turn's stream is as before. The web chat (headless Chromium) shows the progress line until
the answer replaces it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from sangdam.agentic.agent import AgenticAgent
from sangdam.agentic.limits import AgentLimits
from sangdam.agents.base import AgentContext
from sangdam.orchestrator import Orchestrator, progress
from sangdam.orchestrator.blackboard import Blackboard
from sangdam.orchestrator.state import ConversationState, Step
from sangdam.tools.base import RiskTier
from sangdam.tools.registry import all_tools, get_tool
from server_support import (ASSERTION_ISSUER, ASSERTION_SECRET, CHROMIUM, TODAY, login_assertion, make_server_world,
                            running_server)

ANSWER = "확인해 보니 지금 쓰시는 회선은 사용 중입니다. 더 궁금하신 점이 있으면 말씀해 주세요."
ASK = "제 번호 010-5555-6666 회선 데이터 지금 얼마나 남았는지 알아봐 주세요"
USAGE_LINE = "데이터 사용량을 확인하고 있어요…"
START_LINE = "문의하신 내용을 살펴보고 있어요…"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PII = ("010-5555-6666", "5555-6666", "01055556666", "박솔", "1995")


class ScriptedAgentModel:
    """Trusted to act (``agentic``), phrases nothing, answers each agent call with the next scripted action whatever
    schema it was sent; ``gate``: the call numbered ``gate_at`` waits until the test opens it."""

    agentic = True
    capable_writer = False

    def __init__(self, *actions: dict[str, Any], gate: threading.Event | None = None, gate_at: int = 1) -> None:
        self.actions, self.gate, self.gate_at, self.sent = list(actions), gate, gate_at, 0

    def chat(self, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
        if "action" not in json.dumps(kwargs.get("json_schema") or {}):
            raise ValueError("only the agent's actions are scripted")  # routing fallbacks: the classifier stands
        call, self.sent = self.sent, self.sent + 1
        if self.gate is not None and call == self.gate_at:
            assert self.gate.wait(60), "the test never opened the gate"
        action = self.actions.pop(0) if self.actions else {"action": "answer", "text": "확인했습니다."}
        usage = SimpleNamespace(prompt_tokens=100, completion_tokens=20)
        return SimpleNamespace(text=json.dumps(action, ensure_ascii=False), data=None, usage=usage)


def usage_then_answer(**kwargs: Any) -> ScriptedAgentModel:
    return ScriptedAgentModel({"action": "call", "tool": "get_data_usage", "args": {"line_id": "L-C1"}},
                              {"action": "answer", "text": ANSWER}, **kwargs)


class Pinned:
    """Routes "안녕…" to chitchat (an ordinary turn), anything else out of scope (the agent's)."""

    threshold = 0.5

    def route(self, text: str) -> Any:
        from sangdam.orchestrator.router import RouteResult

        intent = "chitchat" if text.startswith("안녕") else "out_of_scope"
        return RouteResult(intents=[intent], confidence=0.95, via="classifier")


@contextmanager
def agent_server(path: Path, model: ScriptedAgentModel) -> Iterator[tuple[str, dict[str, str], Engine]]:
    """The server test world (C-C 박솔, line L-C1) served with an orchestrator whose strong model is ``model``."""
    from sangdam.server.app import create_app
    from sangdam.server.keys import create_key
    from sangdam.server.security import SecurityOptions

    engine = make_server_world(path)
    keys = {"c": create_key(engine, "customer-channel", customer_id="C-C").key}
    orch = Orchestrator(engine, today=TODAY, llm=model, router=Pinned())
    security = SecurityOptions(assertion_key=ASSERTION_SECRET, assertion_issuer=ASSERTION_ISSUER)
    try:
        with running_server(create_app(engine, today=TODAY, orchestrator=orch, security=security)) as base:
            yield base, keys, engine
    finally:
        engine.dispose()


class Listening:
    """A client of ``GET …/events`` in a thread: every event, in order, as (name, data)."""

    def __init__(self, base: str, key: str, conv: str) -> None:
        self.events: list[tuple[str, Any]] = []
        self.raw: list[str] = []
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(base, key, conv), daemon=True)
        self._thread.start()
        assert self.connected.wait(30), "the push stream did not open"

    def _read(self, base: str, key: str, conv: str) -> None:
        headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
        try:
            with httpx.stream("GET", f"{base}/api/v1/conversations/{conv}/events", headers=headers,
                              timeout=httpx.Timeout(60, read=60)) as res:
                block: list[str] = []
                for line in res.iter_lines():
                    if line:
                        block.append(line)
                        continue
                    event = next((b[7:] for b in block if b.startswith("event: ")), None)
                    data = next((b[6:] for b in block if b.startswith("data: ")), None)
                    if event and data is not None:
                        self.raw.append(data)
                        self.events.append((event, json.loads(data)))
                        if event == "state":
                            self.connected.set()
                    block = []
        except httpx.HTTPError:
            pass  # the server closed the stream at shutdown

    def until(self, done: Any, timeout_s: float = 30) -> list[tuple[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while not done(self.events):
            assert time.monotonic() < deadline, f"stream did not get there: {self.events}"
            time.sleep(0.02)
        return list(self.events)


def bot_message(events: list[tuple[str, Any]]) -> bool:
    return any(e == "message" and d["role"] == "bot" for e, d in events)


def _open(base: str, key: str) -> str:
    res = httpx.post(f"{base}/api/v1/conversations", json={"channel": "api"},
                     headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert res.status_code == 201, res.text
    return res.json()["id"]


def _send(base: str, key: str, conv: str, text: str) -> dict:
    res = httpx.post(f"{base}/api/v1/conversations/{conv}/messages", json={"text": text},
                     headers={"Authorization": f"Bearer {key}"}, timeout=60)
    assert res.status_code == 200, res.text
    return res.json()


# =====================================================================================================================
# The lines
# =====================================================================================================================
def test_each_tool_has_a_fixed_line_and_none_holds_a_digit() -> None:
    assert progress.line() == START_LINE
    assert progress.line(get_tool("get_bills")) == "요금 내역을 확인하고 있어요…"
    assert progress.line(get_tool("get_data_usage")) == USAGE_LINE
    texts = progress.texts()
    for tool in all_tools():  # every built-in the agent may run has its own line
        if tool.name not in ("verify_identity", "transfer_to_human", "request_cancellation"):
            assert tool.name in texts["tools"], tool.name
    lines = [texts["start"], texts["generic"], texts["change"], *texts["tools"].values()]
    assert not [t for t in lines if re.search(r"\d|\{", t)] and all(t.endswith("…") for t in lines)


def test_an_imported_tool_gets_a_line_from_its_korean_description() -> None:
    visits = SimpleNamespace(name="list_technician_visits", risk=RiskTier.read,
                             description_ko_text="고객의 기사 방문 예약을 조회합니다. 날짜로 좁힐 수 있습니다.")
    assert progress.line(visits) == "고객의 기사 방문 예약을 조회하고 있어요…"
    counted = SimpleNamespace(name="recent_calls", risk=RiskTier.read, description_ko_text="최근 3개월 통화를 조회합니다.")
    assert progress.line(counted) == progress.texts()["generic"]  # a digit never reaches the customer's screen
    odd = SimpleNamespace(name="odd", risk=RiskTier.read, description_ko_text="Reads visits")
    assert progress.line(odd) == progress.texts()["generic"]
    book = SimpleNamespace(name="book_technician_visit", risk=RiskTier.write,
                           description_ko_text="기사 방문을 예약합니다.")
    assert progress.line(book) == progress.texts()["change"]  # a write is only previewed: no "예약하고 있어요"


# =====================================================================================================================
# The agent reports before it acts
# =====================================================================================================================
def test_the_agent_reports_each_step_before_it_runs_it(db_engine: Engine) -> None:
    from orchestrator_fixtures import TODAY as ORCH_TODAY
    from orchestrator_fixtures import orchestrator

    orch = orchestrator(db_engine)
    seen: list[tuple[str, list[str]]] = []
    model = ScriptedAgentModel({"action": "call", "tool": "get_data_usage", "args": {"line_id": "L1"}},
                               {"action": "call", "tool": "tool_of_someone_else", "args": {}},
                               {"action": "answer", "text": "확인했습니다."})
    agent = AgenticAgent(model, limits=AgentLimits())
    ctx = AgentContext(engine=db_engine, today=ORCH_TODAY, conversation_id="conv-progress",
                       state=ConversationState(verified_customer_id="C1"), text="데이터 얼마나 남았어요?",
                       blackboard=Blackboard(), tool_calls=[], mask=orch.privacy.mask_only, backend=orch.backend)
    ctx.allowed = frozenset(agent.tools)
    ctx.progress = lambda text: seen.append((text, [c.name for c in ctx.tool_calls]))
    out = agent.handle(Step(agent="agentic", intent="out_of_scope", text=ctx.text), ctx)
    assert out.messages == ["확인했습니다."]
    assert [text for text, _ in seen] == [START_LINE, USAGE_LINE]  # the refused action reports nothing
    assert seen[0][1] == [] and "get_data_usage" not in seen[1][1]  # each line before what it announces
    assert [c.name for c in ctx.tool_calls][-1] == "get_data_usage"


def test_a_failing_listener_does_not_fail_the_turn(db_engine: Engine) -> None:
    from orchestrator_fixtures import orchestrator

    def broken(text: str) -> None:
        raise RuntimeError("the stream is gone")

    orch = orchestrator(db_engine, llm=ScriptedAgentModel({"action": "answer", "text": "확인했습니다."}),
                        router=Pinned())
    conv = orch.start_conversation(customer_id="C1")
    with progress.listening(broken) as listener:
        out = orch.handle(conv, "우리 회선 중에 어느 게 제일 오래됐어요?")
    assert out.reply == "확인했습니다." and listener.reported == 1


# =====================================================================================================================
# Over the server's push stream
# =====================================================================================================================
def test_the_stream_carries_progress_then_the_verified_reply_in_pieces_then_the_message(tmp_path: Path) -> None:
    with agent_server(tmp_path / "sangdam.db", usage_then_answer()) as (base, keys, engine):
        conv = _open(base, keys["c"])
        stream = Listening(base, keys["c"], conv)
        reply = _send(base, keys["c"], conv, ASK)
        events = stream.until(bot_message)
        assert reply["reply"] == ANSWER
        kinds = [e for e, _ in events if e != "state"]
        # progress… → delta… → the customer's message → the reply's message
        assert kinds == ["progress", "progress", *["delta"] * (len(kinds) - 4), "message", "message"]
        assert [d["text"] for e, d in events if e == "progress"] == [START_LINE, USAGE_LINE]
        deltas = [d for e, d in events if e == "delta"]
        assert len(deltas) > 2 and "".join(d["text"] for d in deltas) == ANSWER
        assert {d["idx"] for d in deltas} == {reply["reply_idx"]}
        assert [(d["idx"], d["role"]) for e, d in events if e == "message"] == [
            (reply["customer_idx"], "customer"), (reply["reply_idx"], "bot")]
        streamed = "\n".join(stream.raw)
        assert not [p for p in PII if p in streamed]  # the customer's own number never comes back, nor the name
        transcript = httpx.get(f"{base}/api/v1/conversations/{conv}", headers={"Authorization": f"Bearer {keys['c']}"},
                               timeout=30).json()["messages"]
        assert [m["role"] for m in transcript] == ["customer", "bot"]  # progress is never stored
        assert not [m for m in transcript if "있어요…" in m["text"]]

        # an ordinary turn (no agent): its stream is what it always was — messages and state only
        before = len(stream.events)
        _send(base, keys["c"], conv, "안녕하세요")
        later = stream.until(lambda ev: bot_message(ev[before:]))[before:]
        assert {e for e, _ in later} <= {"message", "state"}


def test_a_reconnect_replays_messages_but_no_transient_events(tmp_path: Path) -> None:
    with agent_server(tmp_path / "sangdam.db", usage_then_answer()) as (base, keys, engine):
        conv = _open(base, keys["c"])
        _send(base, keys["c"], conv, ASK)
        replay = Listening(base, keys["c"], conv).until(lambda ev: sum(e == "message" for e, _ in ev) == 2)
        assert [e for e, _ in replay] == ["message", "message", "state"]


# =====================================================================================================================
# The web chat
# =====================================================================================================================
def _chat_and_send(browser: Any, base: str, text: str) -> Any:
    """The web chat of C-C (logged in by the operator's assertion), with ``text`` sent."""
    page = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(60_000)
    token = json.dumps(login_assertion("C-C"))
    page.add_init_script(f"sessionStorage.setItem('sangdam.chat.assertion', {token});")
    page.goto(f"{base}/chat")
    page.locator("body[data-conversation][data-verified='yes']").wait_for(state="attached")
    page.get_by_test_id("text").fill(text)
    page.get_by_test_id("send").click()
    return page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")
def test_the_web_chat_shows_the_progress_line_then_the_answer(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    gate = threading.Event()
    with agent_server(tmp_path / "sangdam.db", usage_then_answer(gate=gate)) as (base, keys, engine), \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = _chat_and_send(browser, base, "이번 달 데이터 얼마나 남았는지 알아봐 주세요")
            line = page.get_by_test_id("progress")
            line.filter(has_text=USAGE_LINE).wait_for()  # the model is held: the agent is still at work
            assert page.locator(".msg.bot").count() == 0
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "chat-agent-progress.png"))
            gate.set()
            page.locator(".msg.bot", has_text=ANSWER).wait_for()
            expect(page.get_by_test_id("send")).to_be_enabled()
            assert line.count() == 0  # the answer replaced the progress line
            assert page.locator(".msg.bot").count() == 1
            assert page.locator(".msg.bot .body").inner_text() == ANSWER
            page.screenshot(path=str(ARTIFACTS / "chat-agent-answer.png"))
        finally:
            gate.set()
            browser.close()


# =====================================================================================================================
# The answer while the model writes it: one verified sentence at a time
# =====================================================================================================================
FIRST = "확인해 보니 지금 쓰시는 회선은 사용 중입니다. "
SECOND = "더 궁금하신 점이 있으면 말씀해 주세요."
INVENTED = "이번 달에는 데이터가 77.7GB 남았어요. "


class StreamingAgentModel(ScriptedAgentModel):
    """Like :class:`ScriptedAgentModel`, but a call made with ``stream=True`` yields its JSON action a few characters
    at a time, as a server does; ``log`` records each piece yielded (the test compares it with what was shown), and
    ``hold_after``: the answer's stream waits on ``gate`` once that many characters of it are out."""

    def __init__(self, *actions: dict[str, Any], log: list[tuple[str, str]] | None = None,
                 hold_after: str | None = None, **kwargs: Any) -> None:
        super().__init__(*actions, **kwargs)
        self.log = log if log is not None else []
        self.hold_after = hold_after
        self.streamed = 0

    def chat(self, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
        whole = super().chat(messages, **{k: v for k, v in kwargs.items() if k != "stream"})
        if not kwargs.get("stream"):
            return whole
        self.streamed += 1
        return self._pieces(whole.text)

    def _pieces(self, text: str) -> Iterator[Any]:
        from sangdam.llm.types import ChatChunk, ChatResult, Usage

        held = False
        for start in range(0, len(text), 3):
            piece = text[start:start + 3]
            self.log.append(("model", piece))
            yield ChatChunk(delta=piece)
            if self.hold_after and not held and self.hold_after in _decoded(text[: start + 3]):
                held = True
                assert self.gate is not None and self.gate.wait(60), "the test never opened the gate"
        yield ChatChunk(done=True, result=ChatResult(text=text, usage=Usage(prompt_tokens=100, completion_tokens=20)))


def _decoded(raw: str) -> str:
    from sangdam.agentic.streaming import top_level_strings

    return top_level_strings(raw).get("text", ("", False))[0]


def _agent_ctx(db_engine: Engine, agent: AgenticAgent, shown: list[str]) -> AgentContext:
    from orchestrator_fixtures import TODAY as ORCH_TODAY
    from orchestrator_fixtures import orchestrator

    orch = orchestrator(db_engine)
    ctx = AgentContext(engine=db_engine, today=ORCH_TODAY, conversation_id="conv-draft",
                       state=ConversationState(verified_customer_id="C1"), text="회선 상태 좀 봐 주세요",
                       blackboard=Blackboard(), tool_calls=[], mask=orch.privacy.mask_only, backend=orch.backend)
    ctx.allowed = frozenset(agent.tools)
    ctx.draft = shown.append
    return ctx


def test_the_draft_streams_each_verified_sentence_before_the_model_writes_the_next(db_engine: Engine) -> None:
    log: list[tuple[str, str]] = []
    model = StreamingAgentModel({"action": "answer", "text": FIRST + SECOND}, log=log)
    agent = AgenticAgent(model, limits=AgentLimits())
    ctx = _agent_ctx(db_engine, agent, [])
    ctx.draft = lambda text: log.append(("shown", text))
    out = agent.handle(Step(agent="agentic", intent="out_of_scope", text=ctx.text), ctx)
    assert out.messages == [FIRST + SECOND] and model.streamed == 1
    shown = [text for who, text in log if who == "shown"]
    assert shown == [FIRST, SECOND]  # the first sentence whole, then the unended last one once the answer passed
    first_shown = log.index(("shown", FIRST))
    written_before = "".join(p for who, p in log[:first_shown] if who == "model")
    assert SECOND[:3] not in _decoded(written_before)  # shown while the model had not yet written the next sentence
    assert out.trace["drafted_sentences"] == 2


def test_a_sentence_the_verifier_rejects_stops_the_draft_and_the_final_reply_replaces_it(db_engine: Engine) -> None:
    shown: list[str] = []
    model = StreamingAgentModel({"action": "answer", "text": FIRST + INVENTED + SECOND},
                                {"action": "answer", "text": FIRST + SECOND})
    agent = AgenticAgent(model, limits=AgentLimits())
    ctx = _agent_ctx(db_engine, agent, shown)
    out = agent.handle(Step(agent="agentic", intent="out_of_scope", text=ctx.text), ctx)
    assert shown == [FIRST]  # 77.7 is in no tool result: neither it nor anything after it was shown
    assert not [s for s in shown if "77.7" in s]
    assert out.messages == [FIRST + SECOND] and out.trace["rejected_drafts"] == 1
    assert model.streamed == 1  # after a rejected draft the answer is not streamed again: it arrives whole


def test_a_call_or_a_proposal_is_never_shown_as_a_draft(db_engine: Engine) -> None:
    shown: list[str] = []
    model = StreamingAgentModel({"action": "call", "tool": "get_data_usage", "args": {"line_id": "L1"}},
                                {"action": "answer", "text": FIRST + SECOND})
    agent = AgenticAgent(model, limits=AgentLimits())
    ctx = _agent_ctx(db_engine, agent, shown)
    out = agent.handle(Step(agent="agentic", intent="out_of_scope", text=ctx.text), ctx)
    assert model.streamed == 2 and shown == [FIRST, SECOND] and out.messages == [FIRST + SECOND]


def test_nobody_listening_means_no_streamed_call(db_engine: Engine) -> None:
    model = StreamingAgentModel({"action": "answer", "text": FIRST + SECOND})
    agent = AgenticAgent(model, limits=AgentLimits())
    ctx = _agent_ctx(db_engine, agent, [])
    ctx.draft = None
    out = agent.handle(Step(agent="agentic", intent="out_of_scope", text=ctx.text), ctx)
    assert out.messages == [FIRST + SECOND] and model.streamed == 0


def test_the_draft_reads_unfinished_json_thinking_and_plain_text() -> None:
    from sangdam.agentic.streaming import DraftStream, top_level_strings

    def run(raw: str, *, json_mode: bool = True, ok: Any = lambda s: True) -> list[str]:
        shown: list[str] = []
        stream = DraftStream(ok, shown.append, json_mode=json_mode, max_chars=40)
        for ch in raw:  # one character at a time: every cut of an escape, a key or a pair of surrogates
            stream.feed(ch)
        return shown

    answer = json.dumps({"action": "answer", "text": "첫 줄은 \"인용\"이에요.\n둘째 😀 줄입니다. 끝"})
    assert run(answer) == ["첫 줄은 \"인용\"이에요.\n", "둘째 😀 줄입니다. "]
    # the text before the action is named is held until the action is known to be an answer
    assert run(json.dumps({"text": "먼저 씁니다. 그리고", "action": "answer"}, ensure_ascii=False)) == ["먼저 씁니다. "]
    assert run(json.dumps({"text": "먼저 씁니다. 그리고", "action": "call"}, ensure_ascii=False)) == []
    # a nested "text" (a call's argument) is never the answer
    assert run(json.dumps({"action": "call", "tool": "search_documents", "args": {"text": "해지 위약금. 얼마"}},
                          ensure_ascii=False)) == []
    assert run("<think>1. 먼저 조회. 그다음 답.</think>" + answer)[:1] == ["첫 줄은 \"인용\"이에요.\n"]
    assert run("안녕하세요. 도와드릴게요. ", json_mode=False) == ["안녕하세요. ", "도와드릴게요. "]
    assert run(answer, json_mode=False)[0] == "첫 줄은 \"인용\"이에요.\n"  # JSON written as text is read as JSON
    assert run("요금은 1.5GB 기준, 2. 항목 3.5원. 끝. ", json_mode=False) == ["요금은 1.5GB 기준, 2. 항목 3.5원. ", "끝. "]
    assert run("가나다라마바사아자차카타파하가나다라마바사아자차카타파하가나다라마바사아자차카타파하. 끝. ", json_mode=False) == []
    assert run("좋아요. 나쁜 99원. 다시 좋아요. ", json_mode=False, ok=lambda s: "99" not in s) == ["좋아요. "]
    assert top_level_strings('{"action": "ans') == {"action": ("ans", False)}


def test_the_stream_carries_the_draft_before_the_final_reply(tmp_path: Path) -> None:
    model = StreamingAgentModel({"action": "call", "tool": "get_data_usage", "args": {"line_id": "L-C1"}},
                                {"action": "answer", "text": ANSWER})
    with agent_server(tmp_path / "sangdam.db", model) as (base, keys, engine):
        conv = _open(base, keys["c"])
        stream = Listening(base, keys["c"], conv)
        reply = _send(base, keys["c"], conv, ASK)
        events = stream.until(bot_message)
        kinds = [e for e, _ in events if e != "state"]
        assert kinds[:4] == ["progress", "progress", "draft", "draft"] and kinds[-2:] == ["message", "message"]
        assert set(kinds[4:-2]) == {"delta"}  # the stored reply follows the draft, then its message
        assert [d["text"] for e, d in events if e == "draft"] == [FIRST, SECOND]
        assert reply["reply"] == ANSWER
        transcript = httpx.get(f"{base}/api/v1/conversations/{conv}", headers={"Authorization": f"Bearer {keys['c']}"},
                               timeout=30).json()["messages"]
        assert [(m["role"], m["text"]) for m in transcript] == [("customer", transcript[0]["text"]), ("bot", ANSWER)]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")
def test_the_web_chat_shows_the_draft_then_the_final_reply_in_the_same_bubble(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    gate = threading.Event()
    model = StreamingAgentModel({"action": "call", "tool": "get_data_usage", "args": {"line_id": "L-C1"}},
                                {"action": "answer", "text": ANSWER}, gate=gate, gate_at=99,
                                hold_after=SECOND[:4])
    with agent_server(tmp_path / "sangdam.db", model) as (base, keys, engine), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = _chat_and_send(browser, base, "이번 달 데이터 얼마나 남았는지 알아봐 주세요")
            draft = page.get_by_test_id("draft")
            draft.filter(has_text=FIRST.strip()).wait_for()  # the model is held in its second sentence
            assert page.get_by_test_id("progress").count() == 0  # the draft replaced the progress line
            assert draft.locator(".body").inner_text().strip() == FIRST.strip()
            assert page.get_by_test_id("send").is_disabled()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "chat-agent-draft.png"))
            gate.set()
            page.locator(".msg.bot", has_text=SECOND).wait_for()
            expect(page.get_by_test_id("send")).to_be_enabled()
            assert draft.count() == 0 and page.locator(".msg.bot").count() == 1  # the same bubble, now final
            assert page.locator(".msg.bot .body").inner_text() == ANSWER
        finally:
            gate.set()
            browser.close()


def test_the_agents_answer_is_not_phrased_again_by_a_capable_writer(db_engine: Engine) -> None:
    from orchestrator_fixtures import orchestrator

    from sangdam.orchestrator.format import say

    class Writer(ScriptedAgentModel):
        capable_writer = True  # phrases ordinary replies; the agent's own answer must reach the customer as drafted

        def __init__(self, *actions: dict[str, Any]) -> None:
            super().__init__(*actions)
            self.phrased = 0

        def chat(self, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
            if "action" in json.dumps(kwargs.get("json_schema") or {}):
                return super().chat(messages, **kwargs)
            if messages[0]["content"] == say("llm.phrase_system"):  # the responder's phrasing call
                self.phrased += 1
                return SimpleNamespace(text="다르게 말한 답입니다.", usage=SimpleNamespace(prompt_tokens=1, completion_tokens=1))
            raise ValueError("only the agent and the writer are scripted")

    model = Writer({"action": "answer", "text": "확인했습니다."})
    orch = orchestrator(db_engine, llm=model, router=Pinned())
    conv = orch.start_conversation(customer_id="C1")
    out = orch.handle(conv, "우리 회선 중에 어느 게 제일 오래됐어요?")
    assert out.reply == "확인했습니다." and model.phrased == 0
    out = orch.handle(conv, "안녕하세요")  # an ordinary turn is still phrased by the capable writer
    assert model.phrased == 1 and out.reply == "다르게 말한 답입니다."


def test_a_message_the_agent_answers_whole_gets_no_cannot_handle_line_too(db_engine: Engine) -> None:
    """"…사용량 보고 판단좀 해줘요" went whole to the agent (a read that needs reasoning), and its clause no intent
    serves was still answered "판단은 제가 도와드릴 수 없는 요청이에요" next to the agent's answer."""
    from orchestrator_fixtures import orchestrator

    model = ScriptedAgentModel({"action": "answer", "text": "사용량을 보면 더 저렴한 요금제도 살펴볼 만합니다."})
    orch = orchestrator(db_engine, llm=model)
    conv = orch.start_conversation(customer_id="C1")
    out = orch.handle(conv, "내가 요금제를 너무 비싼거 쓰는건 아닌지 사용량 보고 판단좀 해줘요")
    trace = orch.traces(conv)[-1]
    assert [c for c in trace["llm_calls"] if c.get("purpose") == "agent"], trace["llm_calls"]
    assert out.reply == "사용량을 보면 더 저렴한 요금제도 살펴볼 만합니다.", out.reply


def test_a_looping_answer_is_not_waited_for(db_engine: Engine) -> None:
    """A small model repeating its sentences until the token limit (seen: the same two sentences three times, 40 s of
    generation): the call is stopped at the first repeat and the answer is what came before it."""
    loop = "추가 요금은 데이터를 다 쓰면 붙습니다. 이는 속도 제한과 다릅니다. "
    log: list[tuple[str, str]] = []
    model = StreamingAgentModel({"action": "answer", "text": loop * 6}, log=log)
    agent = AgenticAgent(model, limits=AgentLimits())
    shown: list[str] = []
    ctx = _agent_ctx(db_engine, agent, shown)
    out = agent.handle(Step(agent="agentic", intent="out_of_scope", text=ctx.text), ctx)
    assert out.messages == [loop.strip()] and shown == ["추가 요금은 데이터를 다 쓰면 붙습니다. ", "이는 속도 제한과 다릅니다. "]
    written = "".join(piece for who, piece in log if who == "model")
    assert len(written) < len(json.dumps({"action": "answer", "text": loop * 2}, ensure_ascii=False)) + 10  # stopped
    assert out.trace["ended"] == "answered"
