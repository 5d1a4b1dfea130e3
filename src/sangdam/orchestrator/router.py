"""The intent router: a customer utterance → ordered intents, a calibrated confidence, and who decided.

Fast path (milliseconds, no LLM): a scikit-learn classifier over Kiwi morphemes and character n-grams
(``router_training``). Multi-intent requests ("요금 알려주시고 로밍도 켜주세요") are split into candidate
clauses on connective cues from ``resources/intents/splitter.yaml``; each clause is classified, and the split
is kept only when it yields at least two different confident task intents, in the order spoken. Each clause
also gets a role: background clauses ("3기가 정도 쓰는데", "일본 가는데"), plain statements and negated
clauses ("해지 말고") are not requests and never become intents of their own, except a reported fault
("인터넷이 안 되는데"), which asks for troubleshooting. Only when the final confidence is under the calibrated threshold is the injected ``IntentFallback`` (the LLM fast tier)
asked; if it fails, the classifier's answer stands.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal, Protocol, runtime_checkable

import yaml
from pydantic import BaseModel, Field, field_validator

from sangdam.orchestrator.intents import INTENTS, NON_TASK_INTENTS, RoutedIntent
from sangdam.orchestrator.router_training import (
    TrainedIntentModel,
    intents_resource_dir,
    load_or_train,
    normalize,
)

log = logging.getLogger(__name__)

MAX_UTTERANCE_CHARS = 2000
# A clause counts as its own intent only at this calibrated confidence or above (chosen on dev_multi.yaml).
CLAUSE_MIN_CONFIDENCE = 0.5
CANDIDATES_FOR_FALLBACK = 5
# A request clause whose best guess is out_of_scope at this confidence is answered as one we cannot handle.
UNCOVERED_MIN_CONFIDENCE = 0.35
# A context clause classified as this intent and reporting a fault ("인터넷이 안 되는데") is a request for help.
FAULT_INTENT = "tech.troubleshoot"


class RouteResult(BaseModel):
    """The router's answer (the JSON printed by ``sangdam route``)."""

    intents: list[RoutedIntent] = Field(min_length=1, description="Intents in the order the customer asked.")
    confidence: float = Field(ge=0.0, le=1.0, description="The classifier's calibrated confidence.")
    via: Literal["classifier", "llm"] = Field(description="Who decided the intents.")


class Analysis(BaseModel):
    """``IntentRouter.analyse``: the route and the request clauses no intent of it serves."""

    route: RouteResult
    # (how many of the route's intents were spoken before it, clause text), in the order spoken
    uncovered: list[tuple[int, str]] = Field(default_factory=list)


class RoutingInputError(ValueError):
    """An utterance the router cannot take (empty or too long); ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@runtime_checkable
class IntentFallback(Protocol):
    """What the router asks when unsure (wired to the LLM fast tier by ``router_llm.LlmIntentFallback``)."""

    def classify(self, text: str, candidates: Sequence[str]) -> list[str]:
        """Ordered intents of ``text``; ``candidates`` are the classifier's best guesses, most likely first."""
        ...


class SplitterCues(BaseModel):
    """``resources/intents/splitter.yaml``: morpheme cues where a new clause may start, and clause roles."""

    connective_endings: frozenset[str]
    auxiliary_tags: frozenset[str]
    conjunctive_particles: frozenset[str]
    connective_adverbs: frozenset[str]
    clause_final_words: frozenset[str]
    background_endings: frozenset[str]
    question_words: frozenset[str]
    request_endings: frozenset[str]
    request_morphemes: frozenset[str]
    fault_words: frozenset[str]
    light_nouns: frozenset[str]
    no_cut_before: frozenset[str]
    discourse_markers: frozenset[str] = frozenset()

    @field_validator("discourse_markers")
    @classmethod
    def _unspaced(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset("".join(m.split()) for m in value)  # compared with a clause's text without spaces


ClauseRole = Literal["request", "context", "negated"]


class Clause(BaseModel):
    """One candidate clause of an utterance and what it does there.

    ``role``: ``request`` (asks for something, or a fragment sharing the next clause's verb), ``context``
    (a background clause or a plain statement: "3기가 정도 쓰는데", "폰 잃어버렸어요"), ``negated``
    ("해지 말고", "해지하는 건 아니고"). ``fault``: the clause reports a fault ("안 돼요", "끊기는데").
    ``bare``: a predicate without its own object ("풀어 주시고"). ``purpose``: for a how-to question
    ("해지하려면 어떻게 해요?"), the text of what the customer wants to do ("해지하"); else ``None``.
    """

    text: str
    role: ClauseRole = "request"
    fault: bool = False
    bare: bool = False
    purpose: str | None = None
    with_particle: str | None = None  # a fragment's text with its conjunctive particle ("요금이랑")
    asks: bool = False  # a request predicate ("해줘", "알려 주세요", "하고 싶어요") or a question
    question: bool = False


@lru_cache(maxsize=1)
def load_splitter_cues() -> SplitterCues:
    """Parse the cue lexicon once per process."""
    with open(intents_resource_dir() / "splitter.yaml", encoding="utf-8") as fh:
        return SplitterCues.model_validate(yaml.safe_load(fh))


_NOUN_TAGS = ("NNG", "NNP", "NP", "NR", "SL", "SN", "SH", "XR")


def _is_background_ending(tok, prev, cues: SplitterCues) -> bool:  # noqa: ANN001 - kiwipiepy Token
    if tok.form not in cues.background_endings:
        return False
    if tok.form == "데":  # 가는데 → 가/VV 는/ETM 데/NNB
        return tok.tag == "NNB" and prev is not None and prev.tag == "ETM"
    if tok.form == "라":  # 안 쓸 거라 → 거/NNB 이/VCP 라/EC
        return tok.tag == "EC" and prev is not None and prev.tag == "VCP"
    return tok.tag == "EC"


def _cut_points(tokens, text: str, cues: SplitterCues) -> list[int]:  # noqa: ANN001 - kiwipiepy tokens
    cuts: set[int] = set()
    for i, tok in enumerate(tokens[:-1]):
        nxt = tokens[i + 1]
        prev = tokens[i - 1] if i else None
        end = tok.start + tok.len
        if tok.tag in ("EF", "SF") or (tok.tag == "SP" and tok.form == ","):
            if not nxt.tag.startswith(("SF", "SP", "SE")) and nxt.form not in cues.no_cut_before:
                cuts.add(end)
        elif tok.form in cues.connective_endings and (
            tok.tag == "EC" or (tok.tag == "NNB" and prev is not None and prev.tag == "ETM")
        ):
            if nxt.tag not in cues.auxiliary_tags:
                cuts.add(end)
        elif _is_background_ending(tok, prev, cues):
            if nxt.tag not in cues.auxiliary_tags and not nxt.tag.startswith(("E", "J", "SF")):
                cuts.add(end)
        elif tok.tag in ("JC", "JKB") and tok.form in cues.conjunctive_particles:
            cuts.add(end)
        elif tok.tag == "MAJ" and tok.form in cues.connective_adverbs and i > 0:
            cuts.add(tok.start)
        elif tok.form in cues.clause_final_words and prev is not None and prev.tag == "EC":
            cuts.add(end)
    return [0, *sorted(c for c in cuts if 0 < c < len(text)), len(text)]


def _clause_of(text: str, start: int, toks, cues: SplitterCues) -> Clause:  # noqa: ANN001
    """The role and flags of one clause from its morphemes (``toks``, positions relative to the utterance)."""
    words = [t for t in toks if not t.tag.startswith(("SF", "SP", "SE", "SS", "SO"))]
    forms = {t.form for t in words}
    question = "?" in text or bool(forms & cues.question_words)
    fault = bool(forms & cues.fault_words)
    bare = not any(t.tag.startswith(_NOUN_TAGS) and t.form not in cues.light_nouns for t in words)
    asks = question or any(
        t.form in cues.request_morphemes or (t.tag == "EF" and t.form in cues.request_endings) for t in words)
    purpose = None
    for k, t in enumerate(words):
        if t.tag == "EC" and t.form in ("려면", "으려면") and any(w.form in ("어떻", "어떡") for w in words[k + 1 :]):
            purpose = text[: max(0, words[k - 1].start + words[k - 1].len - start)] if k else None
            break
    role: ClauseRole = "request"
    if len(words) > 1 and words[-1].tag == "EC" and words[-1].form == "고" and (
            words[-2].tag == "XSV" or (words[-2].tag == "VX" and words[-2].form == "주")):
        # "포인트 조회하고 | 잔여량도 알려줘", "요금 알려 주고 | …": a task verb chained to the next request shares its ask
        asks = True
    if words:
        last = words[-1]
        prev = words[-2] if len(words) > 1 else None
        if last.tag == "EC" and last.form in ("고", "라") and prev is not None and (
            prev.tag == "VCN" or (prev.form == "말" and prev.tag in ("VX", "VV")) or _waives(words)
        ):
            role = "negated"
        elif _is_background_ending(last, prev, cues):
            role = "request" if question else "context"
        elif last.tag == "EF" or (last.tag == "JX" and last.form == "요" and prev is not None and prev.tag == "EC"):
            role = "request" if asks else "context"
    return Clause(text=text, role=role, fault=fault, bare=bare, purpose=purpose or None, asks=asks, question=question)


def _waives(words) -> bool:  # noqa: ANN001 - kiwipiepy tokens ending in 고/EC
    """"충전은 됐고", "그건 됐고", "충전 필요 없고": the customer lets that one go (a no, not a request)."""
    forms = [t.form for t in words]
    if forms[-3:] == ["되", "었", "고"]:
        return len(words) > 3 and words[-4].tag == "JX"
    return forms[-3:] == ["필요", "없", "고"]


def analyse_clauses(text: str, cues: SplitterCues | None = None) -> list[Clause]:
    """Candidate clauses of ``text`` in order, each with its role (one request clause when no cue is found).

    Boundaries: after a sentence-final ending or punctuation (not before 고민/생각: "바꿀까 고민인데"), a
    comma, a connective ending not followed by an auxiliary ("알려주시고|", but not "바꾸고 싶어요"), a
    background ending ("쓰는데|", "가서|", "거라|"), a conjunctive particle ("요금이랑|"), a clause-final word
    after an ending ("남았는지 보고|"); before a connective adverb ("|그리고").
    """
    from sangdam.korean.analyzer import get_kiwi

    cues = cues or load_splitter_cues()
    tokens = get_kiwi().tokenize(text)
    bounds = _cut_points(tokens, text, cues)
    clauses: list[Clause] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        piece = text[a:b]
        stripped = piece.strip(" \t,.!?~")
        if not stripped:
            continue
        offset = a + piece.index(stripped)
        toks = [t for t in tokens if a <= t.start < b]
        clause = _clause_of(text[a:b], offset, toks, cues)
        words = [t for t in toks if not t.tag.startswith(("SF", "SP", "SE", "SS", "SO"))]
        if len(words) > 1 and words[-1].tag in ("JC", "JKB") and words[-1].form in cues.conjunctive_particles:
            # "일본이랑 | 중국 로밍": classify the noun, not the particle (이랑 also ends "상담원이랑 통화")
            noun = text[offset : words[-1].start].strip()
            if noun:
                clause = clause.model_copy(update={"with_particle": stripped})
                stripped = noun
        if "".join(stripped.split()) in cues.discourse_markers:
            clause = clause.model_copy(update={"role": "context"})  # "잠깐", "근데": asks nothing
        clauses.append(clause.model_copy(update={"text": stripped}))
    return clauses or [Clause(text=text)]


def split_clauses(text: str, cues: SplitterCues | None = None) -> list[str]:
    """Candidate clause texts of ``text`` in order (the whole text when no cue is found)."""
    return [c.text for c in analyse_clauses(text, cues)]


def _merge_bare_predicates(clauses: list[Clause]) -> list[Clause]:
    """Join a bare predicate to the context clause before it: "유심이 잠겼는데 | 풀어 주시고" is one request."""
    out: list[Clause] = []
    for clause in clauses:
        if out and clause.bare and clause.role == "request" and out[-1].role == "context":
            prev = out.pop()
            clause = Clause(text=f"{prev.text} {clause.text}", fault=prev.fault)
        out.append(clause)
    return out


def _is_request(clause: Clause, intent: str) -> bool:
    """Whether a classified clause is something the customer asks for (not scene-setting or a negation)."""
    if clause.role == "negated":
        return False
    if clause.role == "context":
        return clause.fault and intent == FAULT_INTENT
    return True


def _uncovered(clause: Clause, intent: str, confidence: float, served: set[str], after_fault: bool) -> bool:
    """A request clause no intent serves, which the reply must answer rather than drop.

    Only clauses that ask for something ("포인트 조회도 해줘", "주가 얼마야?") count: fragments that share
    another clause's verb ("요금이랑"), bare predicates, scene-setting, fault reports and a question right after
    a fault ("안 터져요 뭐가 문제예요?") belong to other requests. Then: the classifier's best guess is
    ``out_of_scope`` (``UNCOVERED_MIN_CONFIDENCE``; stricter for text without Hangul, which the morpheme cues
    cannot read), or it is unsure of a request (not a question) whose guess is no task the message already asks."""
    if clause.with_particle:  # "멤버십 포인트랑 …": counted only when it reads out of scope with and without 랑
        return clause.role == "request" and intent == "out_of_scope" and confidence >= CLAUSE_MIN_CONFIDENCE
    if clause.role != "request" or clause.bare or clause.fault:
        return False
    hangul = any("가" <= ch <= "힣" for ch in clause.text)
    if intent == "out_of_scope":
        if not hangul:
            return confidence >= CLAUSE_MIN_CONFIDENCE
        return clause.asks and confidence >= UNCOVERED_MIN_CONFIDENCE and not (after_fault and clause.question)
    return (hangul and clause.asks and not clause.question and confidence < CLAUSE_MIN_CONFIDENCE
            and intent not in NON_TASK_INTENTS and intent not in served)


class IntentRouter:
    """Routes utterances to ordered intents; asks ``fallback`` only below ``threshold``."""

    def __init__(
        self,
        model: TrainedIntentModel,
        *,
        fallback: IntentFallback | None = None,
        threshold: float | None = None,
        cues: SplitterCues | None = None,
    ) -> None:
        self.model = model
        self.fallback = fallback
        self.threshold = model.threshold if threshold is None else threshold
        self.cues = cues or load_splitter_cues()

    def route(self, text: str) -> RouteResult:
        """Ordered intents of one utterance (``RoutingInputError`` when empty or longer than 2000 chars)."""
        return self.analyse(text).route

    def analyse(self, text: str) -> Analysis:
        """The route, plus the request clauses it leaves out because no intent serves them (``uncovered``:
        "분실 신고하고 포인트 조회도 해줘" → route [line.suspend], uncovered [(1, "포인트 조회도 해줘")])."""
        clean = normalize(text)
        if not clean:
            raise RoutingInputError("empty_utterance", "utterance is empty")
        if len(clean) > MAX_UTTERANCE_CHARS:
            raise RoutingInputError(
                "utterance_too_long", f"utterance has {len(clean)} characters; the limit is {MAX_UTTERANCE_CHARS}"
            )
        intents, confidence, candidates, uncovered = self._classify(clean)
        if confidence < self.threshold and self.fallback is not None:
            chosen = self._ask_fallback(clean, candidates, limit=max(1, len(intents)))
            if chosen:
                return Analysis(route=RouteResult(intents=chosen, confidence=confidence, via="llm"),  # type: ignore[arg-type]
                                uncovered=uncovered if "out_of_scope" not in chosen else [])
        route = RouteResult(intents=intents, confidence=confidence, via="classifier")  # type: ignore[arg-type]
        return Analysis(route=route, uncovered=uncovered if "out_of_scope" not in intents else [])

    def route_many(self, texts: Sequence[str]) -> list[RouteResult]:
        """``route`` for each text, in order."""
        return [self.route(t) for t in texts]

    # -- internals ------------------------------------------------------------------------------------------

    def _classify(self, text: str) -> tuple[list[str], float, list[str], list[tuple[int, str]]]:
        """(intents, confidence, fallback candidates, uncovered request clauses) from the classifier alone."""
        clauses = _merge_bare_predicates(analyse_clauses(text, self.cues))
        purposes = [c.purpose for c in clauses if c.purpose] if len(clauses) > 1 else []
        joined = [c.with_particle for c in clauses if c.with_particle] if len(clauses) > 1 else []
        pieces = [text] if len(clauses) == 1 else [text, *(c.text for c in clauses), *purposes, *joined]
        proba = self.model.predict_proba(pieces)  # one batched call: whole text, every clause, purposes
        classes = self.model.classes
        best = [(classes[int(row.argmax())], float(row.max())) for row in proba]
        whole_intent, whole_conf = best[0]
        ranked = [classes[int(j)] for j in proba[0].argsort()[::-1][:CANDIDATES_FOR_FALLBACK]]
        if len(clauses) == 1:
            return [whole_intent], whole_conf, ranked, []

        labelled = list(zip(clauses, best[1 : 1 + len(clauses)], strict=True))
        extra = [i for i, _ in best[1 + len(clauses) :]]
        purpose_intent = dict(zip(purposes, extra[: len(purposes)], strict=True))
        joined_intent = dict(zip(joined, extra[len(purposes) :], strict=True))
        # a fragment before a conjunctive particle counts only when it reads the same with and without the
        # particle: "요금(이랑)" is billing either way, "일본(이랑)" is not a request of its own
        labelled = [
            (c, (i, p if not c.with_particle or joined_intent[c.with_particle] == i else 0.0))
            for c, (i, p) in labelled
        ]
        # background clauses, negated ones ("해지 말고") and how-to questions about what another clause asks
        # to be done ("해지하려면 어떻게 해요? 해지해 주세요") are not requests of their own
        kept = [(c, i, p) for c, (i, p) in labelled if _is_request(c, i)]
        others = {i for _, i, _ in kept}
        kept = [(c, i, p) for c, i, p in kept if not (c.purpose and purpose_intent[c.purpose] in others - {i})]
        tasks: list[tuple[str, float]] = []
        for _, intent, conf in kept:
            if conf >= CLAUSE_MIN_CONFIDENCE and intent not in NON_TASK_INTENTS:
                if all(intent != seen for seen, _ in tasks):
                    tasks.append((intent, conf))
                else:  # a repeated intent keeps its first position, and its best confidence
                    k = next(n for n, (seen, _) in enumerate(tasks) if seen == intent)
                    tasks[k] = (intent, max(conf, tasks[k][1]))
        # a request clause the classifier is sure no intent serves ("포인트 조회도 해줘") is not dropped silently
        served = {i for i, _ in tasks}
        uncovered: list[tuple[int, str]] = []  # (tasks spoken before it, clause)
        seen: list[str] = []
        for n, (c, i, p) in enumerate(kept):
            if _uncovered(c, i, p, served, after_fault=n > 0 and kept[n - 1][0].fault):
                uncovered.append((len(seen), c.text))
            elif i in served and i not in seen:
                seen.append(i)
        if len(tasks) >= 2 or (len(tasks) == 1 and whole_intent in NON_TASK_INTENTS):
            return [i for i, _ in tasks], min(c for _, c in tasks), [i for i, _ in tasks] + ranked, uncovered
        ranked = ranked + [i for i, _ in tasks if i not in ranked]
        if len(tasks) == 1 and len(kept) < len(clauses):
            # scene-setting was dropped: the one request clause says what the customer wants, the whole
            # utterance may lean on the background ("3기가 쓰는데 … 추천해줘")
            return [tasks[0][0]], tasks[0][1], [tasks[0][0]] + ranked, uncovered
        return [whole_intent], whole_conf, ranked, uncovered

    def _ask_fallback(self, text: str, candidates: list[str], limit: int) -> list[str]:
        """The fallback's intents, de-duplicated; ``[]`` when it fails.

        The LLM is a tie-breaker, not a free classifier: it may pick only among the classifier's candidates
        and return at most as many intents as the clause analysis found requests (``limit``). A small model
        asked an open question tends to list every plausible intent; this keeps it from adding tasks.
        """
        assert self.fallback is not None
        try:
            answer = self.fallback.classify(text, list(dict.fromkeys(candidates)))
        except Exception as exc:  # an unavailable LLM must not break routing: the classifier's answer stands
            log.warning("intent fallback failed, keeping the classifier's answer: %s", exc)
            return []
        allowed = set(candidates)
        valid = [i for i in dict.fromkeys(answer) if i in INTENTS and i in allowed]
        if len(valid) > 1:
            valid = [i for i in valid if i not in NON_TASK_INTENTS] or valid[:1]
        return valid[:limit]


_model_lock = threading.Lock()
_model: TrainedIntentModel | None = None


def get_intent_model() -> TrainedIntentModel:
    """The process-wide trained model (loaded from the cache, or trained once and cached)."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                _model = load_or_train()
    return _model


def reset_intent_model() -> None:
    """Forget the process-wide model (after changing ``SANGDAM_HOME`` or the training data)."""
    global _model
    with _model_lock:
        _model = None


def get_router(fallback: IntentFallback | None = None) -> IntentRouter:
    """A router over the shared model; ``fallback`` (e.g. ``LlmIntentFallback``) is asked only when unsure."""
    return IntentRouter(get_intent_model(), fallback=fallback)
