"""The intent router: a customer utterance → ordered intents, a calibrated confidence, and who decided.

Fast path (milliseconds, no LLM): a scikit-learn classifier over Kiwi morphemes and character n-grams
(``router_training``). Multi-intent requests ("요금 알려주시고 로밍도 켜주세요") are split into candidate
clauses on connective cues from ``resources/intents/splitter.yaml``; each clause is classified, and the split
is kept only when it yields at least two different confident task intents, in the order spoken. Only when the
final confidence is under the calibrated threshold is the injected ``IntentFallback`` (the LLM fast tier)
asked; if it fails, the classifier's answer stands.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal, Protocol, runtime_checkable

import yaml
from pydantic import BaseModel, Field

from sangdam.orchestrator.intents import INTENTS, NON_TASK_INTENTS, Intent
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


class RouteResult(BaseModel):
    """The router's answer (the JSON printed by ``sangdam route``)."""

    intents: list[Intent] = Field(min_length=1, description="Intents in the order the customer asked.")
    confidence: float = Field(ge=0.0, le=1.0, description="The classifier's calibrated confidence.")
    via: Literal["classifier", "llm"] = Field(description="Who decided the intents.")


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
    """``resources/intents/splitter.yaml``: morpheme cues where a new clause may start."""

    connective_endings: frozenset[str]
    auxiliary_tags: frozenset[str]
    conjunctive_particles: frozenset[str]
    connective_adverbs: frozenset[str]
    clause_final_words: frozenset[str]


@lru_cache(maxsize=1)
def load_splitter_cues() -> SplitterCues:
    """Parse the cue lexicon once per process."""
    with open(intents_resource_dir() / "splitter.yaml", encoding="utf-8") as fh:
        return SplitterCues.model_validate(yaml.safe_load(fh))


def split_clauses(text: str, cues: SplitterCues | None = None) -> list[str]:
    """Candidate clauses of ``text`` in order (the whole text when no cue is found).

    Boundaries: after a sentence-final ending or punctuation, a comma, a connective ending not followed by
    an auxiliary ("알려주시고|", but not "바꾸고 싶어요"), a conjunctive particle ("요금이랑|"), a clause-final
    word after an ending ("남았는지 보고|"); before a connective adverb ("|그리고").
    """
    from sangdam.korean.analyzer import get_kiwi

    cues = cues or load_splitter_cues()
    tokens = get_kiwi().tokenize(text)
    cuts: set[int] = set()
    for i, tok in enumerate(tokens[:-1]):
        nxt = tokens[i + 1]
        prev = tokens[i - 1] if i else None
        end = tok.start + tok.len
        if tok.tag in ("EF", "SF") or (tok.tag == "SP" and tok.form == ","):
            if not nxt.tag.startswith(("SF", "SP", "SE")):
                cuts.add(end)
        elif tok.form in cues.connective_endings and (
            tok.tag == "EC" or (tok.tag == "NNB" and prev is not None and prev.tag == "ETM")
        ):
            if nxt.tag not in cues.auxiliary_tags:
                cuts.add(end)
        elif tok.tag in ("JC", "JKB") and tok.form in cues.conjunctive_particles:
            cuts.add(end)
        elif tok.tag == "MAJ" and tok.form in cues.connective_adverbs and i > 0:
            cuts.add(tok.start)
        elif tok.form in cues.clause_final_words and prev is not None and prev.tag == "EC":
            cuts.add(end)
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(text)), len(text)]
    clauses = [text[a:b].strip(" \t,.!?~") for a, b in zip(bounds, bounds[1:], strict=False)]
    return [c for c in clauses if c] or [text]


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
        clean = normalize(text)
        if not clean:
            raise RoutingInputError("empty_utterance", "utterance is empty")
        if len(clean) > MAX_UTTERANCE_CHARS:
            raise RoutingInputError(
                "utterance_too_long", f"utterance has {len(clean)} characters; the limit is {MAX_UTTERANCE_CHARS}"
            )
        intents, confidence, candidates = self._classify(clean)
        if confidence < self.threshold and self.fallback is not None:
            chosen = self._ask_fallback(clean, candidates)
            if chosen:
                return RouteResult(intents=chosen, confidence=confidence, via="llm")  # type: ignore[arg-type]
        return RouteResult(intents=intents, confidence=confidence, via="classifier")  # type: ignore[arg-type]

    def route_many(self, texts: Sequence[str]) -> list[RouteResult]:
        """``route`` for each text, in order."""
        return [self.route(t) for t in texts]

    # -- internals ------------------------------------------------------------------------------------------

    def _classify(self, text: str) -> tuple[list[str], float, list[str]]:
        """(intents, confidence, fallback candidates) from the classifier alone."""
        clauses = split_clauses(text, self.cues)
        pieces = [text] if len(clauses) == 1 else [text, *clauses]
        proba = self.model.predict_proba(pieces)  # one batched call: whole text and every clause
        classes = self.model.classes
        best = [(classes[int(row.argmax())], float(row.max())) for row in proba]
        whole_intent, whole_conf = best[0]
        ranked = [classes[int(j)] for j in proba[0].argsort()[::-1][:CANDIDATES_FOR_FALLBACK]]

        if len(pieces) > 1:
            tasks: list[tuple[str, float]] = []
            for intent, conf in best[1:]:
                if conf >= CLAUSE_MIN_CONFIDENCE and intent not in NON_TASK_INTENTS:
                    if not tasks or all(intent != seen for seen, _ in tasks):
                        tasks.append((intent, conf))
                    else:  # a repeated intent keeps its first position, and its best confidence
                        k = next(n for n, (seen, _) in enumerate(tasks) if seen == intent)
                        tasks[k] = (intent, max(conf, tasks[k][1]))
            clause_candidates = [i for i, _ in tasks if i not in ranked]
            if len(tasks) >= 2 or (len(tasks) == 1 and whole_intent in NON_TASK_INTENTS):
                return [i for i, _ in tasks], min(c for _, c in tasks), [i for i, _ in tasks] + ranked
            ranked = ranked + clause_candidates
        return [whole_intent], whole_conf, ranked

    def _ask_fallback(self, text: str, candidates: list[str]) -> list[str]:
        """The fallback's intents, filtered to the taxonomy and de-duplicated; ``[]`` when it fails."""
        assert self.fallback is not None
        try:
            answer = self.fallback.classify(text, list(dict.fromkeys(candidates)))
        except Exception as exc:  # an unavailable LLM must not break routing: the classifier's answer stands
            log.warning("intent fallback failed, keeping the classifier's answer: %s", exc)
            return []
        valid = [i for i in dict.fromkeys(answer) if i in INTENTS]
        if len(valid) > 1:
            valid = [i for i in valid if i not in NON_TASK_INTENTS] or valid[:1]
        return valid


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
