"""Browser tests (Playwright + Debian chromium): the customer web chat and the agent console, on a real server.

Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from sangdam.domain.conversation_models import Message
from sangdam.domain.db import make_engine, session_scope
from sangdam.domain.models import Bill, Line
from server_support import login_assertion, served_world

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")


@dataclass
class World:
    """A served test world: base URL, keys ("agent" for the console; the chat page needs none) and the database,
    to check what was stored."""

    base: str
    keys: dict[str, str]
    engine: Engine


@contextmanager
def world_at(path: Path, **options: int) -> Iterator[World]:
    with served_world(path, **options) as (base, keys):
        engine = make_engine(f"sqlite:///{path}")
        try:
            yield World(base, keys, engine)
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[World]:  # noqa: ANN001
    with world_at(tmp_path_factory.mktemp("browser") / "sangdam.db") as world:
        yield world


@pytest.fixture()
def fresh(tmp_path) -> Iterator[World]:  # noqa: ANN001
    """A world of its own, for tests that change C-C's line."""
    with world_at(tmp_path / "sangdam.db") as world:
        yield world


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> Iterator[World]:  # noqa: ANN001
    """Served with a small rate limit (30 requests a minute per subject)."""
    with world_at(tmp_path_factory.mktemp("browser-limited") / "sangdam.db", rate_per_minute=30) as world:
        yield world


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def new_page(browser, *, width: int = 1280, height: int = 800, clock: bool = False, csp: bool = False):  # noqa: ANN001, ANN201
    """A fresh tab. The pages' Content-Security-Policy forbids eval, which Playwright's ``wait_for_function`` needs:
    tests bypass it unless ``csp`` (the test that the pages work under their own policy keeps it)."""
    context = browser.new_context(locale="ko-KR", viewport={"width": width, "height": height}, bypass_csp=not csp)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    if clock:  # timers under the test's control: a minute of an open page passes in no time
        page.clock.install()
    return page


def open_chat(browser, base: str, customer: str | None = None, **page_options: bool | int):  # noqa: ANN001, ANN201
    """A customer opens /chat — no key. With ``customer`` the operator's login has signed them in: its assertion
    waits in sessionStorage (as a same-origin login page leaves it) and the chat opens verified as them."""
    page = new_page(browser, **page_options)
    if customer:
        token = json.dumps(login_assertion(customer))
        page.add_init_script("if (!sessionStorage.getItem('sangdam.chat.session')) "
                             f"sessionStorage.setItem('sangdam.chat.assertion', {token});")
    page.goto(f"{base}/chat")
    page.locator("body[data-conversation]").wait_for(state="attached")
    return page


def open_console(browser, base: str, key: str, **page_options: int):  # noqa: ANN001, ANN201
    console = new_page(browser, **page_options)
    console.goto(f"{base}/console")
    console.get_by_test_id("key").fill(key)
    console.get_by_test_id("login").click()
    console.get_by_test_id("conversations").wait_for()
    return console


def send(page, text: str) -> None:  # noqa: ANN001
    bots = page.locator(".msg.bot").count()
    page.get_by_test_id("text").fill(text)
    page.get_by_test_id("send").click()
    page.locator(".msg.bot").nth(bots).wait_for()
    page.wait_for_function("!document.getElementById('send').disabled")


def click_and_wait_for_reply(page, button) -> str:  # noqa: ANN001
    bots = page.locator(".msg.bot").count()
    button.click()
    page.locator(".msg.bot").nth(bots).wait_for()
    page.wait_for_function("!document.getElementById('send').disabled")
    return page.locator(".msg.bot").last.inner_text()


def conversation(page) -> str:  # noqa: ANN001
    return page.evaluate("document.body.dataset.conversation")


def stored(world: World, conv: str, role: str = "customer") -> list[str]:
    with session_scope(world.engine) as s:
        return list(s.scalars(select(Message.text).where(Message.conversation_id == conv, Message.role == role)
                              .order_by(Message.idx)))


def transfer_to_agent(page) -> None:  # noqa: ANN001
    """The customer asks for a person: the bot transfers at once (mode human; issue 13)."""
    send(page, "상담원 연결해주세요")
    page.wait_for_function("document.body.dataset.mode === 'human'")


# -- issue 11, items 1 and 7: no key in the browser, nothing it holds names a customer --------------------------
STORAGE = "() => ({session: {...sessionStorage}, local: {...localStorage}, url: location.href})"


def test_customer_opens_the_chat_without_any_key(browser, served) -> None:  # noqa: ANN001
    page = open_chat(browser, served.base)
    assert page.get_by_test_id("key").count() == 0  # nothing to paste
    held = page.evaluate(STORAGE)
    assert held["local"] == {} and "ws-" not in held["url"] and "sd-" not in held["url"]
    assert held["session"]["sangdam.chat.session"].startswith("ws-")  # this tab's session, gone with the tab
    assert page.evaluate("document.body.dataset.verified") == "no"
    send(page, "이번 달 요금 알려주세요")
    assert "본인 확인" in page.locator(".msg.bot").last.inner_text()  # identity is checked in the conversation


def test_chat_and_console_work_under_their_own_content_security_policy(browser, served) -> None:  # noqa: ANN001
    refused: list[str] = []
    chat = new_page(browser, csp=True)
    chat.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    chat.goto(f"{served.base}/chat")
    chat.locator("body[data-conversation]").wait_for(state="attached")
    chat.get_by_test_id("text").fill("요금제 알려주세요")
    chat.get_by_test_id("send").click()
    chat.locator(".msg.bot").first.wait_for()
    console = new_page(browser, csp=True)
    console.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    console.goto(f"{served.base}/console")
    console.get_by_test_id("key").fill(served.keys["agent"])
    console.get_by_test_id("login").click()
    console.locator(f"#list [data-id='{chat.evaluate('document.body.dataset.conversation')}']").wait_for()
    docs = new_page(browser, csp=True)
    docs.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    docs.goto(f"{served.base}/docs")
    docs.get_by_text("/api/v1/sessions").first.wait_for()
    assert refused == []


def test_nothing_the_browser_holds_opens_a_conversation_as_another_customer(browser, served) -> None:  # noqa: ANN001
    page = open_chat(browser, served.base, "C-C")  # even a page signed in as 박솔
    assert page.evaluate("document.body.dataset.verified") == "yes"
    held = page.evaluate(STORAGE)
    tries = page.evaluate("""async (held) => {
      const out = [];
      for (const token of [...Object.values(held.session), ...Object.values(held.local), ""]) {
        for (const customer_id of ["C-A", "C-B", "C-NOBODY"]) {
          const res = await fetch("/api/v1/conversations", {method: "POST", body: JSON.stringify({customer_id}),
            headers: {"Content-Type": "application/json", ...(token ? {"Authorization": "Bearer " + token} : {})}});
          out.push([customer_id, res.status, await res.text()]);
        }
      }
      return out;
    }""", held)
    assert tries and all(status in (401, 403) for _, status, _ in tries), tries
    assert not any("C-NOBODY" in body for _, _, body in tries)


def test_an_ended_session_starts_a_new_chat_and_keeps_what_was_typed(browser, served) -> None:  # noqa: ANN001
    from sangdam.domain.auth_models import WebSession

    page = open_chat(browser, served.base, clock=True)
    first = conversation(page)
    session_id = page.evaluate("sessionStorage.getItem('sangdam.chat.session')")[3:].split(".")[0]
    with session_scope(served.engine) as s:  # idle past its expiry
        row = s.get(WebSession, session_id)
        row.expires_at = row.created_at
    page.get_by_test_id("text").fill("요금 알려주세요")
    page.get_by_test_id("send").click()
    page.wait_for_function(f"document.body.dataset.conversation && document.body.dataset.conversation !== '{first}'")
    assert "만료" in page.get_by_test_id("notice").inner_text()
    assert page.get_by_test_id("text").input_value() == "요금 알려주세요"  # nothing typed is lost
    assert page.evaluate("sessionStorage.getItem('sangdam.chat.session')").split(".")[0] != f"ws-{session_id}"
    assert stored(served, first) == []


def test_customer_activates_roaming_with_confirmation(browser, served) -> None:  # noqa: ANN001
    base, keys = served.base, served.keys
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_chat(browser, base, "C-C")
    send(page, "다음 주에 일본 가는데 로밍 켜주세요")
    assert "아시아 5일" in page.locator(".msg.bot").last.inner_text()
    assert page.get_by_test_id("choice").count() >= 2  # the proposal's options are buttons
    page.screenshot(path=str(ARTIFACTS / "chat-roaming-passes.png"), full_page=True)
    send(page, "네, 아시아 5일짜리로 해주세요")
    assert "로밍을 켰습니다" in page.locator(".msg.bot").last.inner_text()
    assert page.get_by_test_id("choice").count() == 0
    page.screenshot(path=str(ARTIFACTS / "chat-roaming-done.png"), full_page=True)


def test_customer_confirms_a_proposal_with_the_yes_button(browser, served) -> None:  # noqa: ANN001
    base, keys = served.base, served.keys
    page = open_chat(browser, base, "C-C")
    send(page, "데이터 1기가 충전해 주세요")
    bots = page.locator(".msg.bot").count()
    page.get_by_test_id("confirm-yes").click()
    page.locator(".msg.bot").nth(bots).wait_for()
    assert page.locator(".msg.customer").last.inner_text() == "네"
    assert "충전했습니다" in page.locator(".msg.bot").last.inner_text()


def test_agent_takes_over_and_the_customer_sees_the_agent_message(browser, served) -> None:  # noqa: ANN001
    base, keys = served.base, served.keys
    ARTIFACTS.mkdir(exist_ok=True)
    chat = open_chat(browser, base, "C-C")
    send(chat, "요금 알려줘")
    conv = chat.evaluate("document.body.dataset.conversation")

    console = open_console(browser, base, keys["agent"])
    console.locator(f"#list [data-id='{conv}']").click()
    console.get_by_test_id("takeover").click()
    console.wait_for_function("document.body.dataset.mode === 'human'")
    console.get_by_test_id("agent-text").fill("안녕하세요, 상담사 김민수입니다. 무엇을 도와드릴까요?")
    console.get_by_test_id("agent-send").click()
    console.locator("#messages .msg.agent").wait_for()
    console.locator("#summary dd").first.wait_for()
    console.screenshot(path=str(ARTIFACTS / "console-takeover.png"), full_page=True)

    chat.locator(".msg.agent").wait_for()  # the chat page polls for agent messages
    assert "상담사 김민수" in chat.locator(".msg.agent").last.inner_text()
    chat.screenshot(path=str(ARTIFACTS / "chat-agent-message.png"), full_page=True)


# -- issue 10, item 2: a choice button leads to the preview, never straight to the booking ------------------------
def test_pass_choice_button_shows_the_preview_and_books_only_after_yes(browser, fresh) -> None:  # noqa: ANN001
    page = open_chat(browser, fresh.base, "C-C")
    send(page, "다음 주에 일본 가는데 로밍 켜주세요")
    preview = click_and_wait_for_reply(page, page.get_by_test_id("choice").filter(has_text="아시아 5일"))
    assert "19,800원" in preview and "진행할까요" in preview
    assert page.get_by_test_id("confirm-yes").is_visible() and page.get_by_test_id("confirm-no").is_visible()
    with session_scope(fresh.engine) as s:
        line = s.get(Line, "L-C1")
        assert (line.roaming_enabled, line.roaming_pass_id) == (False, None)  # nothing booked yet
        assert s.scalars(select(Bill).where(Bill.customer_id == "C-C")).all() == []  # nothing charged
    done = click_and_wait_for_reply(page, page.get_by_test_id("confirm-yes"))
    assert "로밍을 켰습니다" in done
    with session_scope(fresh.engine) as s:
        line = s.get(Line, "L-C1")
        assert (line.roaming_enabled, line.roaming_pass_id) == (True, "R-ASIA5")


# -- issue 10, item 4: open chats from one address never starve each other's sends -------------------------------
def test_open_chats_from_one_address_can_all_still_send(browser, limited) -> None:  # noqa: ANN001
    pages = [open_chat(browser, limited.base, clock=True) for _ in range(4)]
    for page in pages:  # each page stays open a minute (the old page polled 40 times in it)
        page.clock.run_for(60_000)
    for page in pages:
        page.get_by_test_id("text").fill("요금 알려줘")
        page.get_by_test_id("send").click()
    for page in pages:
        page.wait_for_function("document.querySelector('.msg.bot') || "
                               "(document.getElementById('error').textContent && !document.getElementById('send').disabled)")
        assert page.locator("#error").inner_text() == ""
        assert page.locator(".msg.bot").count() == 1 and page.get_by_test_id("text").input_value() == ""
        assert stored(limited, conversation(page)) == ["요금 알려줘"]


def test_a_send_that_keeps_failing_leaves_its_text_in_the_box(browser, served) -> None:  # noqa: ANN001
    page = open_chat(browser, served.base, "C-C", clock=True)
    attempts: list[str] = []

    def unavailable(route) -> None:  # noqa: ANN001
        attempts.append(route.request.headers.get("idempotency-key", ""))
        route.fulfill(status=503, content_type="application/json",
                      body='{"error": {"code": "internal", "message": "down", "message_ko": "일시적인 오류가 발생했습니다."}}')

    page.route("**/messages", unavailable)
    page.get_by_test_id("text").fill("이번 달 요금 알려주세요")
    page.get_by_test_id("send").click()
    for n in range(1, 5):  # each failure is retried after a back-off (the page's clock skips the wait)
        page.wait_for_function(f"document.getElementById('error').textContent.includes('({n}/4)')", timeout=5_000)
        page.clock.run_for(20_000)
    page.wait_for_function("!document.getElementById('send').disabled")
    assert page.get_by_test_id("text").input_value() == "이번 달 요금 알려주세요"
    assert page.locator(".msg.customer").count() == 0 and "다시 보내 주세요" in page.locator("#error").inner_text()
    assert len(attempts) == 5 and len(set(attempts)) == 1  # one message, retried under one idempotency key
    assert stored(served, conversation(page)) == []


def test_a_send_whose_answer_was_lost_is_retried_and_stored_once(browser, served) -> None:  # noqa: ANN001
    page = open_chat(browser, served.base, "C-C", clock=True)
    first = []

    def lose_first_answer(route) -> None:  # noqa: ANN001
        if not first:
            first.append(route.fetch())  # the server stores and answers it ...
            route.abort("connectionreset")  # ... but the answer never reaches the page
        else:
            route.continue_()

    page.route("**/messages", lose_first_answer)
    page.get_by_test_id("text").fill("데이터 얼마나 남았어요?")
    page.get_by_test_id("send").click()
    page.wait_for_function("document.getElementById('error').textContent.includes('(1/4)')", timeout=5_000)
    page.clock.run_for(5_000)
    page.locator(".msg.bot").first.wait_for()
    page.wait_for_function("!document.getElementById('send').disabled")
    assert [t.strip() for t in page.locator(".msg.customer").all_inner_texts()] == ["데이터 얼마나 남았어요?"]
    assert page.locator(".msg.bot").count() == 1 and page.get_by_test_id("text").input_value() == ""
    assert stored(served, conversation(page)) == ["데이터 얼마나 남았어요?"]
    assert len(stored(served, conversation(page), "bot")) == 1


# -- issue 10, item 11: the web UI ---------------------------------------------------------------------------------
WORDS_SPLIT_ACROSS_LINES = """() => {
  const split = [];
  for (const body of document.querySelectorAll('.msg .body')) {
    const node = body.firstChild; if (!node) continue;
    let at = 0;
    for (const word of node.textContent.split(/(\\s+)/)) {
      if (word.trim()) {
        const r = document.createRange(); r.setStart(node, at); r.setEnd(node, at + word.length);
        if (new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size > 1) split.push(word);
      }
      at += word.length;
    }
  }
  return split;
}"""

LINES_OF_TEXT = """(el) => {
  const r = document.createRange(); r.selectNodeContents(el);
  return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size;
}"""


def test_korean_words_wrap_between_words_never_inside_one(browser, served) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_chat(browser, served.base, "C-C", width=390, height=844)
    send(page, "로밍 요금제 알려주세요")
    send(page, "이번 달 데이터 사용량이랑 요금제 혜택을 자세하게 설명해 주시겠어요? 해외 출장이 잦아서 궁금합니다")
    assert page.locator(".msg.bot").last.evaluate(LINES_OF_TEXT) > 2  # long enough to wrap
    page.screenshot(path=str(ARTIFACTS / "chat-390-wrapping.png"), full_page=True)
    assert page.evaluate(WORDS_SPLIT_ACROSS_LINES) == []


def test_customer_sees_their_own_number_after_reload_while_stored_copies_stay_masked(browser, served) -> None:  # noqa: ANN001
    typed = "제 번호는 010-5555-6666이고 생일은 1995년 5월 5일이에요"
    page = open_chat(browser, served.base)
    send(page, typed)
    conv = conversation(page)
    page.reload()
    page.wait_for_function("document.body.dataset.conversation && document.querySelector('.msg.customer')")
    assert page.locator(".msg.customer").first.inner_text() == typed
    assert all("010-5555-6666" not in t for t in stored(served, conv))  # masked at rest
    console = open_console(browser, served.base, served.keys["agent"])
    console.locator(f"#list [data-id='{conv}']").click()
    console.locator("#messages .msg.customer").first.wait_for()
    assert "010-5555-6666" not in console.locator("#messages .msg.customer").first.inner_text()  # masked for others


def test_console_cards_show_the_customer_name_waiting_time_and_last_activity(browser, served) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    chat = open_chat(browser, served.base, "C-C")
    transfer_to_agent(chat)
    waiting = conversation(chat)
    anonymous = open_chat(browser, served.base)
    send(anonymous, "요금제 종류 알려주세요")
    console = open_console(browser, served.base, served.keys["agent"], width=1024, height=768)
    card = console.locator(f"#queue [data-id='{waiting}']")
    card.wait_for()
    assert card.get_by_test_id("customer-name").inner_text() == "박솔"
    assert card.get_by_test_id("waiting").inner_text().startswith("대기 ")
    assert card.get_by_test_id("last-activity").inner_text().startswith("마지막 활동 ")
    unverified = console.locator(f"#list [data-id='{conversation(anonymous)}']")
    assert unverified.get_by_test_id("customer-name").inner_text() == "미확인 고객"
    assert unverified.get_by_test_id("waiting").count() == 0  # the bot is answering: nobody waits
    console.screenshot(path=str(ARTIFACTS / "console-1024-cards.png"), full_page=True)


def test_console_header_buttons_stay_on_one_line_at_1024px(browser, served) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    chat = open_chat(browser, served.base, "C-C")
    send(chat, "요금 알려줘")
    console = open_console(browser, served.base, served.keys["agent"], width=1024, height=768)
    console.locator(f"#list [data-id='{conversation(chat)}']").click()
    console.wait_for_function("document.body.dataset.mode === 'bot'")
    header = console.get_by_test_id("conversation-header")
    for element in [*header.locator("button").all(), header.get_by_test_id("mode")]:
        assert element.evaluate(LINES_OF_TEXT) == 1, element.inner_text()
    box, section = header.bounding_box(), console.locator("section.transcript").bounding_box()
    assert box["x"] + box["width"] <= section["x"] + section["width"] + 1  # nothing spills out of the column
    console.screenshot(path=str(ARTIFACTS / "console-1024.png"))


def test_customer_is_told_when_an_agent_joins_after_a_bot_transfer(browser, served) -> None:  # noqa: ANN001
    chat = open_chat(browser, served.base, "C-C")
    transfer_to_agent(chat)
    console = open_console(browser, served.base, served.keys["agent"])
    console.locator(f"#queue [data-id='{conversation(chat)}']").click()
    console.wait_for_function("document.body.dataset.mode === 'human'")
    console.get_by_test_id("agent-text").fill("안녕하세요, 상담사 이하늘입니다.")
    console.get_by_test_id("agent-send").click()
    chat.locator(".msg.agent").wait_for()
    lines = chat.locator(".msg.system, .msg.agent").all_inner_texts()
    assert any("상담사가 연결되었습니다" in t for t in lines[:-1]) and "이하늘" in lines[-1]
    assert sum("상담사가 연결되었습니다" in t for t in lines) == 1


def test_suggested_reply_answers_the_question_the_customer_asked_while_waiting(browser, served) -> None:  # noqa: ANN001
    chat = open_chat(browser, served.base, "C-C")
    transfer_to_agent(chat)
    chat.get_by_test_id("text").fill("기다리는 동안 궁금한데 데이터 얼마나 남았어요?")
    chat.get_by_test_id("send").click()
    chat.wait_for_function("!document.getElementById('send').disabled && document.getElementById('text').value === ''")
    reference = open_chat(browser, served.base, "C-C")  # what the bot answers to the same question
    send(reference, "데이터 얼마나 남았어요?")
    answer = reference.locator(".msg.bot").last.inner_text().replace("AI 상담원", "").strip()
    console = open_console(browser, served.base, served.keys["agent"])
    console.locator(f"#queue [data-id='{conversation(chat)}']").click()
    first = console.locator("#suggestions button").first
    first.wait_for()
    assert first.inner_text().split("\n")[0] in answer and "GB" in first.inner_text()
    assert all(b.evaluate("(el) => el.scrollWidth <= el.clientWidth + 1")  # long suggestions wrap, none cut off
               for b in console.locator("#suggestions button").all())
    assert not any("이용해 주셔서 감사합니다" in t for t in console.locator("#suggestions button").all_inner_texts())
