"""The agent's answer shown while the model writes it — one verified sentence at a time.

The model's tokens arrive as the text of a JSON action (``{"action": "answer", "text": "…"}``) or, with a server's
native tool calls, as plain text. :class:`DraftStream` is fed each piece as it comes; it reads the answer's text out
of the unfinished JSON, cuts it into sentences, and releases a sentence only when it is complete *and* passes the
verifier on its own (every number, date, plan name and id in it grounded in this turn's tool results). The first
sentence that does not pass stops the draft: nothing after it is shown, and the final reply — verified whole,
regenerated or replaced by a safe reply — is what the customer then gets (it replaces the draft on screen).

A call or a proposal is never shown: only an action that is an answer releases text. The draft is a courtesy to a
customer who waits for a slow model; the stored reply is the final one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# A sentence ends at . ? ! or 。 (not after a digit: "1. 요금제", "12.5GB") followed by whitespace, or at a line break.
_BOUNDARY = re.compile(r"(?:(?<=[^\d\s])[.?!。]+[\"'”’)\]]*\s+|\n+)")
THINK = ("<think>", "</think>")  # every reasoning profile's tags (llm/profiles/*.yaml)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class DraftStream:
    """Releases the verified sentences of an answer as the model writes it.

    ``check(sentence) -> bool`` is the verifier on one sentence; ``emit(text)`` shows it (the turn's draft sink).
    ``json_mode``: the model writes a JSON action (else plain text, which is read as JSON when it starts with ``{``).
    ``max_chars``: nothing past this many characters of the answer is ever released (the agent cuts there).
    """

    def __init__(self, check: Callable[[str], bool], emit: Callable[[str], None], *, json_mode: bool = True,
                 max_chars: int = 10_000) -> None:
        self.check, self.emit, self.json_mode, self.max_chars = check, emit, json_mode, max_chars
        self.raw = ""
        self.released = ""  # the answer's text released so far (a prefix of the answer)
        self.held = False  # a sentence failed the verifier: nothing more is released
        self.sentences = 0
        self._said: set[str] = set()
        self.looping = False  # the answer repeats a sentence: the rest is a loop, not worth waiting for

    def feed(self, piece: str) -> None:
        if self.held or not piece:
            return
        self.raw += piece
        text = self.answer_text()
        if text is not None:
            self._release(text[: self.max_chars])

    def answer_text(self) -> str | None:
        """The answer's text written so far (None: the action is not an answer, or not known to be one yet)."""
        stripped = self.raw.lstrip()
        if stripped.startswith(THINK[0][: len(stripped)]):  # a server that leaves the model's thinking inline
            if THINK[1] not in stripped:
                return None  # thinking (or not yet known not to be): never shown
            stripped = stripped.split(THINK[1], 1)[1].lstrip()
        if not stripped:
            return None
        if not stripped.startswith("{"):
            return None if self.json_mode else stripped
        fields = top_level_strings(stripped)
        action = fields.get("action")
        if action is None or not action[1] or action[0] != "answer":
            return None
        text = fields.get("text")
        return text[0].lstrip() if text is not None else None

    def _release(self, text: str) -> None:
        while not self.held:
            rest = text[len(self.released):]
            end = _boundary(rest)
            if end is None:
                return
            sentence = rest[:end]
            if not sentence.strip():
                self.released += sentence
                continue
            if sentence.strip() in self._said:  # said again: a small model looping until its token limit
                self.held = self.looping = True
                return
            if not self.check(sentence.strip()):
                self.held = True
                return
            self._said.add(sentence.strip())
            self.released += sentence
            self.sentences += 1
            self.emit(sentence)


def cut_repeats(text: str) -> str:
    """``text`` up to the first sentence that repeats an earlier one (a small model looping until its token limit:
    "…발생합니다. 이는 …입니다. …발생합니다. 이는 …입니다."); the text itself when nothing repeats."""
    said: set[str] = set()
    kept, rest = "", text
    while rest:
        end = _boundary(rest)
        sentence, rest = (rest, "") if end is None else (rest[:end], rest[end:])
        if sentence.strip() and sentence.strip() in said:
            return kept.strip()
        said.add(sentence.strip())
        kept += sentence
    return kept.strip()


def _boundary(text: str) -> int | None:
    """Where the first complete sentence of ``text`` ends (after its trailing whitespace); None: none yet."""
    match = _BOUNDARY.search(text)
    return match.end() if match else None


def top_level_strings(raw: str) -> dict[str, tuple[str, bool]]:
    """The string fields of the top-level JSON object in the (possibly unfinished) ``raw``: name → (value so far,
    complete). Nested objects and non-string values are skipped; an escape cut off at the end is left out."""
    out: dict[str, tuple[str, bool]] = {}
    depth, i, n = 0, 0, len(raw)
    key: str | None = None
    expect_key = False
    while i < n:
        c = raw[i]
        if c == '"':
            value, i, done = _read_string(raw, i + 1)
            if depth == 1:
                if expect_key:
                    key, expect_key = (value if done else None), False
                elif key is not None:
                    out[key] = (value, done)
                    key = None
            if not done:
                break
            continue
        if c in "{[":
            depth += 1
            expect_key = c == "{" and depth == 1
        elif c in "}]":
            depth -= 1
        elif c == "," and depth == 1:
            key, expect_key = None, True
        i += 1
    return out


def _read_string(raw: str, i: int) -> tuple[str, int, bool]:
    """Decode the JSON string starting after its opening quote at ``i``: (text, index after it, closed?)."""
    parts: list[str] = []
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == '"':
            return "".join(parts), i + 1, True
        if c != "\\":
            parts.append(c)
            i += 1
            continue
        if i + 1 >= n:
            break  # an escape cut off: wait for the rest
        e = raw[i + 1]
        if e == "u":
            code = raw[i + 2: i + 6]
            if len(code) < 4:
                break
            try:
                point = int(code, 16)
            except ValueError:
                point = ord("?")
            i += 6
            if 0xD800 <= point < 0xDC00:  # an emoji's surrogate pair: both halves, or wait for the second
                tail = raw[i:i + 6]
                if len(tail) < 6 and "\\u".startswith(tail[:2]):
                    break
                low = int(tail[2:], 16) if tail.startswith("\\u") and _is_hex(tail[2:]) else 0
                if 0xDC00 <= low < 0xE000:
                    point = 0x10000 + ((point - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                else:
                    point = ord("?")
            elif 0xDC00 <= point < 0xE000:
                point = ord("?")
            parts.append(chr(point))
            continue
        parts.append(_ESCAPES.get(e, e))
        i += 2
    return "".join(parts), n, False


def _is_hex(text: str) -> bool:
    return len(text) == 4 and all(c in "0123456789abcdefABCDEF" for c in text)
