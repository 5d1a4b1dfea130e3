"""The QA scorecard over HTTP and in the agent console (issue 16 item 1), on a real server: agents read it,
customers' keys are refused, and the console's conversation view shows the rubric table under its own CSP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from sangdam.domain.db import make_engine, session_scope
from sangdam.domain.insight_models import QaScore
from server_support import CHROMIUM, served_world, signed_in_console

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[str, dict[str, str], object, str]]:  # noqa: ANN001
    """Served world with one conversation of C-C: a data refill proposed and confirmed."""
    path = tmp_path_factory.mktemp("qa-console") / "sangdam.db"
    with served_world(path) as (base, keys), httpx.Client(base_url=base, timeout=60) as client:
        headers = {"Authorization": f"Bearer {keys['c']}"}
        conv = client.post("/api/v1/conversations", json={"channel": "api"}, headers=headers).json()["id"]
        for text in ("데이터 2기가 충전해줘", "네"):
            assert client.post(f"/api/v1/conversations/{conv}/messages", json={"text": text}, headers=headers).status_code == 200
        engine = make_engine(f"sqlite:///{path}")
        try:
            yield base, keys, engine, conv
        finally:
            engine.dispose()


def _get_qa(base: str, key: str, conv: str) -> httpx.Response:
    return httpx.get(f"{base}/api/v1/conversations/{conv}/qa", headers={"Authorization": f"Bearer {key}"}, timeout=60)


def test_agent_gets_the_scorecard_and_it_is_stored_once(world) -> None:  # noqa: ANN001
    base, keys, engine, conv = world
    res = _get_qa(base, keys["agent"], conv)
    assert res.status_code == 200, res.text
    card = res.json()
    verdicts = {i["item"]: i["passed"] for i in card["items"]}
    assert verdicts["confirmation_before_write"] is True and verdicts["resolution"] is True
    assert next(i for i in card["items"] if i["item"] == "confirmation_before_write")["evidence"]["turn"] == 2
    assert 0 < card["score"] <= 1 and card["rubric_version"]
    again = _get_qa(base, keys["agent"], conv).json()
    assert [i["passed"] for i in again["items"]] == [i["passed"] for i in card["items"]]
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(QaScore).where(QaScore.conversation_id == conv)) == len(card["items"])


def test_customer_keys_are_refused_and_unknown_conversations_are_404(world) -> None:  # noqa: ANN001
    base, keys, _, conv = world
    assert _get_qa(base, keys["c"], conv).status_code == 403  # even the key that owns the conversation
    assert _get_qa(base, keys["trusted"], conv).status_code == 403
    assert _get_qa(base, "sd-not-a-key", conv).status_code == 401
    assert _get_qa(base, keys["agent"], "CV-nope").status_code == 404


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")
def test_console_conversation_view_shows_the_qa_table_under_its_csp(world) -> None:  # noqa: ANN001
    base, keys, _, conv = world
    with signed_in_console(base, keys["agent"]) as (page, refused):
        page.locator(f"#list [data-id='{conv}']").click()
        row = page.locator("[data-testid='qa-item'][data-item='confirmation_before_write']")
        row.wait_for()
        assert row.locator("td").nth(0).inner_text() == "변경 전 고객 동의"
        assert row.locator("td").nth(1).inner_text() == "통과"
        assert row.locator("td").nth(2).inner_text() == "#2"
        assert page.locator("[data-testid='qa-item'][data-item='empathy'] td").nth(1).inner_text() == "해당 없음"
        assert "점수" in page.get_by_test_id("qa-score").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-qa.png"), full_page=True)
        assert refused == []

