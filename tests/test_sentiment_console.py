"""The escalation mark in the agent console (issue 16 item 2), on a real server: an angry customer's conversation
is listed with its mark over HTTP, and the console's list shows it as a badge (under the console's CSP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server_support import CHROMIUM, served_world, signed_in_console

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[str, dict[str, str], str, str]]:  # noqa: ANN001
    """Served world with two conversations of C-C: one angry (escalated), one calm."""
    path = tmp_path_factory.mktemp("escalation-console") / "sangdam.db"
    with served_world(path) as (base, keys), httpx.Client(base_url=base, timeout=60) as client:
        headers = {"Authorization": f"Bearer {keys['c']}"}
        convs = []
        for text in ("아니 몇 번을 말해야 돼요? 장난하세요? 진짜 짜증나네 ㅡㅡ", "데이터 얼마나 남았어요?"):
            conv = client.post("/api/v1/conversations", json={"channel": "api"}, headers=headers).json()["id"]
            sent = client.post(f"/api/v1/conversations/{conv}/messages", json={"text": text}, headers=headers)
            assert sent.status_code == 200
            convs.append(conv)
        yield base, keys, convs[0], convs[1]


def test_console_list_carries_the_escalation_mark(world) -> None:  # noqa: ANN001
    base, keys, angry, calm = world
    rows = httpx.get(f"{base}/api/v1/console/conversations", timeout=60,
                     headers={"Authorization": f"Bearer {keys['agent']}"}).json()
    marks = {r["id"]: r["escalation"] for r in rows}
    assert marks[angry] == "angry"
    assert marks[calm] is None


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")
def test_console_shows_an_escalation_badge_only_on_the_marked_conversation(world) -> None:  # noqa: ANN001
    base, keys, angry, calm = world
    with signed_in_console(base, keys["agent"]) as (page, refused):
        badge = page.locator(f"#list [data-id='{angry}'] [data-testid='escalation']")
        badge.wait_for()
        assert badge.inner_text() == "상담사 필요 · 고객 분노"
        assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 214, 214)"
        assert page.locator(f"#list [data-id='{calm}'] [data-testid='escalation']").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-escalation.png"))
        assert refused == []

