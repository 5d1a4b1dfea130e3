"""Browser tests (Playwright + Debian chromium): the customer web chat and the agent console, on a real server.

Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server_support import served_world

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:  # noqa: ANN001
    with served_world(tmp_path_factory.mktemp("browser") / "sangdam.db") as world:
        yield world


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def open_chat(browser, base: str, key: str):  # noqa: ANN001, ANN201
    page = browser.new_context(locale="ko-KR").new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{base}/chat")
    page.get_by_test_id("key").fill(key)
    page.get_by_test_id("login").click()
    page.wait_for_function("document.body.dataset.conversation")
    return page


def send(page, text: str) -> None:  # noqa: ANN001
    bots = page.locator(".msg.bot").count()
    page.get_by_test_id("text").fill(text)
    page.get_by_test_id("send").click()
    page.locator(".msg.bot").nth(bots).wait_for()
    page.wait_for_function("!document.getElementById('send').disabled")


def test_customer_activates_roaming_with_confirmation(browser, served) -> None:  # noqa: ANN001
    base, keys = served
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_chat(browser, base, keys["c"])
    send(page, "다음 주에 일본 가는데 로밍 켜주세요")
    assert "아시아 5일" in page.locator(".msg.bot").last.inner_text()
    assert page.get_by_test_id("choice").count() >= 2  # the proposal's options are buttons
    page.screenshot(path=str(ARTIFACTS / "chat-roaming-passes.png"), full_page=True)
    send(page, "네, 아시아 5일짜리로 해주세요")
    assert "로밍을 켰습니다" in page.locator(".msg.bot").last.inner_text()
    assert page.get_by_test_id("choice").count() == 0
    page.screenshot(path=str(ARTIFACTS / "chat-roaming-done.png"), full_page=True)


def test_customer_confirms_a_proposal_with_the_yes_button(browser, served) -> None:  # noqa: ANN001
    base, keys = served
    page = open_chat(browser, base, keys["c"])
    send(page, "상담원 연결해주세요")
    bots = page.locator(".msg.bot").count()
    page.get_by_test_id("confirm-yes").click()
    page.locator(".msg.bot").nth(bots).wait_for()
    assert page.locator(".msg.customer").last.inner_text() == "네"


def test_agent_takes_over_and_the_customer_sees_the_agent_message(browser, served) -> None:  # noqa: ANN001
    base, keys = served
    ARTIFACTS.mkdir(exist_ok=True)
    chat = open_chat(browser, base, keys["c"])
    send(chat, "요금 알려줘")
    conv = chat.evaluate("document.body.dataset.conversation")

    console = browser.new_context(locale="ko-KR").new_page()
    console.set_default_timeout(TIMEOUT_MS)
    console.goto(f"{base}/console")
    console.get_by_test_id("key").fill(keys["agent"])
    console.get_by_test_id("login").click()
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
