"""The official ``openai`` client, pointed at a real uvicorn server on loopback, talks to the contact centre."""

from __future__ import annotations

import re
from collections.abc import Iterator

import openai
import pytest

from server_support import served_world

HANGUL = re.compile(r"[가-힣]")


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:  # noqa: ANN001
    with served_world(tmp_path_factory.mktemp("server-openai") / "sangdam.db") as world:
        yield world


def client(base: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=120)


def test_openai_client_gets_a_korean_reply(served) -> None:  # noqa: ANN001
    base, keys = served
    done = client(base, keys["c"]).chat.completions.create(
        model="sangdam", messages=[{"role": "user", "content": "이번 달 요금 얼마 나왔어요?"}])
    answer = done.choices[0].message.content
    assert done.model == "sangdam" and done.choices[0].finish_reason == "stop"
    assert HANGUL.search(answer) and "청구" in answer  # C-C has no bill yet: the bot says so, in Korean


def test_the_conversation_header_continues_the_same_conversation(served) -> None:  # noqa: ANN001
    base, keys = served
    api = client(base, keys["c"])
    history = [{"role": "system", "content": "You are helpful."},
               {"role": "user", "content": "다음 주에 일본 가는데 로밍 켜주세요"}]
    first = api.chat.completions.with_raw_response.create(model="sangdam", messages=history)
    conv = first.headers["X-Sangdam-Conversation"]
    reply = first.parse()
    assert reply.model_extra["sangdam"]["conversation_id"] == conv
    history += [{"role": "assistant", "content": reply.choices[0].message.content},
                {"role": "user", "content": "네, 아시아 5일짜리로 해주세요"}]
    second = api.chat.completions.create(model="sangdam", messages=history,
                                         extra_headers={"X-Sangdam-Conversation": conv})
    assert second.model_extra["sangdam"]["conversation_id"] == conv
    assert "로밍을 켰습니다" in second.choices[0].message.content


# -- issue 11, item 2: a conversation is named, never found from the message text ------------------------------
def test_a_second_user_repeating_the_opening_does_not_join_the_first_users_conversation(served) -> None:  # noqa: ANN001
    base, keys = served
    api = client(base, keys["web"])  # one app backend, many end users, one key
    opening = [{"role": "user", "content": "이번 달 요금 알려줘"}]
    first = api.chat.completions.create(model="sangdam", messages=opening)
    conv = first.model_extra["sangdam"]["conversation_id"]
    asked = first.choices[0].message.content
    verified = api.chat.completions.create(
        model="sangdam", extra_headers={"X-Sangdam-Conversation": conv},
        messages=[*opening, {"role": "assistant", "content": asked}, {"role": "user", "content": "010-5555-6666 1995년 5월 5일"}])
    assert "요금" in verified.choices[0].message.content  # the first user is verified now
    stranger = api.chat.completions.create(  # the same opening, replayed word for word by someone else
        model="sangdam", messages=[*opening, {"role": "assistant", "content": asked},
                                   {"role": "user", "content": "이번 달 요금 알려줘"}])
    assert stranger.model_extra["sangdam"]["conversation_id"] != conv
    assert "원" not in stranger.choices[0].message.content  # no amount of 박솔's bill: asked to verify instead


def test_the_user_field_keeps_one_conversation_per_end_user(served) -> None:  # noqa: ANN001
    base, keys = served
    api = client(base, keys["web"])
    ask = [{"role": "user", "content": "요금제 알려주세요"}]
    one = [api.chat.completions.create(model="sangdam", messages=ask, user="end-user-1") for _ in range(2)]
    two = api.chat.completions.create(model="sangdam", messages=ask, user="end-user-2")
    ids = [r.model_extra["sangdam"]["conversation_id"] for r in (*one, two)]
    assert ids[0] == ids[1] and ids[2] != ids[0]
    other_key = client(base, keys["c"]).chat.completions.create(model="sangdam", messages=ask, user="end-user-1")
    assert other_key.model_extra["sangdam"]["conversation_id"] not in ids  # users are per key


def test_another_keys_conversation_cannot_be_named(served) -> None:  # noqa: ANN001
    base, keys = served
    theirs = client(base, keys["c"]).chat.completions.create(
        model="sangdam", messages=[{"role": "user", "content": "데이터 얼마나 남았어요?"}])
    with pytest.raises(openai.NotFoundError):
        client(base, keys["web"]).chat.completions.create(
            model="sangdam", messages=[{"role": "user", "content": "요금 알려줘"}],
            extra_headers={"X-Sangdam-Conversation": theirs.model_extra["sangdam"]["conversation_id"]})


def test_streaming_chunks_rebuild_the_reply(served) -> None:  # noqa: ANN001
    base, keys = served
    stream = client(base, keys["c"]).chat.completions.create(
        model="sangdam", stream=True, messages=[{"role": "user", "content": "데이터 얼마나 남았어요?"}])
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert len([p for p in pieces if p]) >= 2 and HANGUL.search("".join(pieces))


def test_unknown_model_and_wrong_role_are_refused(served) -> None:  # noqa: ANN001
    base, keys = served
    with pytest.raises(openai.NotFoundError):
        client(base, keys["c"]).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "안녕"}])
    with pytest.raises(openai.PermissionDeniedError):
        client(base, keys["agent"]).chat.completions.create(model="sangdam", messages=[{"role": "user", "content": "안녕"}])
    with pytest.raises(openai.AuthenticationError):
        client(base, "sd-nope.nope").chat.completions.create(model="sangdam", messages=[{"role": "user", "content": "안녕"}])
