"""Knowledge gaps: what the bot could not handle in a date range, grouped by meaning.

Three kinds of customer turns count as a gap (all texts PII-masked, as stored in the traces):

- ``out_of_scope``: a turn routed to ``out_of_scope`` (포인트, 넷플릭스, 주식, 날씨 …);
- ``knowledge_refusal``: a ``policy.question`` turn answered with the knowledge agent's refusal
  (``knowledge.not_found``: no relevant passage in the operator's documents);
- ``handoff``: a conversation transferred to a human (a ``transfer_to_human`` call that succeeded): the customer's
  last task turn before asking for a person ("넷플릭스 결합 상품 있나요?" → "상담사 연결해 주세요") or before
  accepting the bot's offer of one, or the request itself when there was none. A task turn already counted as a
  gap is not counted again.

The utterances are embedded with e5 (``query:`` form: a symmetric similarity task) and clustered with
scikit-learn's agglomerative clustering on cosine distance, average linkage, cut at ``DISTANCE_THRESHOLD``
(calibrated on hand-made sets: topics such as 포인트/넷플릭스/주식 are ~0.15–0.2 apart, paraphrases < 0.12).
Each cluster gets a suggested FAQ entry: drafted by the LLM when the strong role's profile is a capable Korean
writer, else a Korean template listing the utterances.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, OrderedDict, defaultdict
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import Engine, and_, select, union

from sangdam.domain.conversation_models import Conversation, TurnTrace
from sangdam.domain.insight_models import TurnIntent
from sangdam.insights.aggregate import _in_range
from sangdam.orchestrator.format import say
from sangdam.orchestrator.resources import load_resource

DISTANCE_THRESHOLD = 0.12
MAX_UTTERANCES = 3000  # the most recent ones are clustered (agglomerative clustering is quadratic in memory)
MAX_EXAMPLES = 5
GAP_INTENTS = ("out_of_scope", "policy.question", "agent.human")
CACHE_SIZE = 20_000  # e5 vectors kept per process (~30 MB)
_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_NOT_TASKS = frozenset({"agent.human", "chitchat", "out_of_scope"})

GapKind = Literal["out_of_scope", "knowledge_refusal", "handoff"]


class GapUtterance(BaseModel):
    """One customer turn the bot could not handle."""

    conversation_id: str
    turn_index: int
    kind: GapKind
    text: str
    at: dt.datetime


class GapCluster(BaseModel):
    """Utterances of similar meaning, with what to add to the knowledge base."""

    cluster: int
    size: int
    conversations: int
    share_of_gaps: float  # size / utterances clustered
    share_of_conversations: float  # conversations in the cluster / conversations opened in the range
    kinds: dict[str, int] = Field(default_factory=dict)
    examples: list[str] = Field(default_factory=list)
    faq: str
    faq_by: Literal["llm", "template"]


class GapReport(BaseModel):
    """The range's knowledge gaps, largest cluster first."""

    since: dt.date
    until: dt.date
    total: int  # gap utterances found in the range
    used: int  # of them, clustered (the most recent MAX_UTTERANCES)
    clusters: list[GapCluster] = Field(default_factory=list)


def _text(key: str, **values: Any) -> str:
    node: Any = load_resource("insights/ko.yaml")
    for part in key.split("."):
        node = node[part]
    return str(node).format(**values).strip()


# -- collecting -----------------------------------------------------------------------------------------------
def collect_gaps(engine: Engine, since: dt.date, until: dt.date) -> list[GapUtterance]:
    """Every gap utterance of the range (by the turn's time), oldest first."""
    refusal = say("knowledge.not_found")
    trace = and_(TurnTrace.conversation_id == TurnIntent.conversation_id, TurnTrace.turn_index == TurnIntent.turn_index)
    candidates = (select(TurnIntent.conversation_id, TurnIntent.turn_index, TurnIntent.intent, TurnIntent.at,
                         TurnTrace.data)
                  .join(TurnTrace, trace)
                  .where(_in_range(TurnIntent.at, since, until), TurnIntent.intent.in_(GAP_INTENTS[:2])))
    # transfers follow a request for a person, or an offer the bot made itself (anger, repeated failure): both
    # leave the conversation in mode human unless an agent handed it back
    asked_human = union(
        select(TurnIntent.conversation_id).where(_in_range(TurnIntent.at, since, until),
                                                 TurnIntent.intent == "agent.human"),
        select(Conversation.id).where(_in_range(Conversation.created_at, since, until), Conversation.mode == "human"))
    handoff_traces = (select(TurnTrace.conversation_id, TurnTrace.turn_index, TurnTrace.at, TurnTrace.data)
                      .where(TurnTrace.conversation_id.in_(asked_human)))
    found: dict[tuple[str, int], GapUtterance] = {}
    with engine.connect() as conn:
        for row in conn.execute(candidates):
            data = row.data or {}
            if row.intent == "out_of_scope":
                kind = "out_of_scope"
            elif refusal in (data.get("reply") or ""):
                kind = "knowledge_refusal"
            else:
                continue
            found.setdefault((row.conversation_id, row.turn_index), GapUtterance(
                conversation_id=row.conversation_id, turn_index=row.turn_index, kind=kind,
                text=str(data.get("user") or ""), at=row.at))
        by_conversation: dict[str, list[Any]] = defaultdict(list)
        for row in conn.execute(handoff_traces):
            by_conversation[row.conversation_id].append(row)
    start, end = dt.datetime.combine(since, dt.time()), dt.datetime.combine(until + dt.timedelta(days=1), dt.time())
    for turns in by_conversation.values():
        gap = _handoff_gap(sorted(turns, key=lambda r: r.turn_index), found)
        if gap is not None and start <= gap.at < end:
            found[(gap.conversation_id, gap.turn_index)] = gap
    return sorted((g for g in found.values() if g.text.strip()), key=lambda g: (g.at, g.conversation_id, g.turn_index))


def _handoff_gap(turns: list[Any], found: dict[tuple[str, int], GapUtterance]) -> GapUtterance | None:
    """The utterance behind a transfer to a human in one conversation's turns (None: no transfer, or its reason
    is already a gap)."""
    transfer = next((i for i, t in enumerate(turns) if _transferred(t.data or {})), None)
    if transfer is None:
        return None
    request = next((i for i in range(transfer, -1, -1) if "agent.human" in (turns[i].data or {}).get("intents", [])),
                   transfer)  # no request: the bot offered a person and the customer accepted
    chosen = turns[request]
    for earlier in reversed(turns[:request]):
        if (earlier.conversation_id, earlier.turn_index) in found:
            return None  # the reason is a gap already (out of scope, refused question)
        intents = set((earlier.data or {}).get("intents") or [])
        if intents and not intents <= _NOT_TASKS:
            chosen = earlier
            break
    return GapUtterance(conversation_id=chosen.conversation_id, turn_index=chosen.turn_index, kind="handoff",
                        text=str((chosen.data or {}).get("user") or ""), at=chosen.at)


def _transferred(data: dict[str, Any]) -> bool:
    return any(c.get("name") == "transfer_to_human" and c.get("status") == "ok" for c in data.get("tool_calls") or [])


# -- clustering -----------------------------------------------------------------------------------------------
def cluster_utterances(texts: list[str], threshold: float = DISTANCE_THRESHOLD) -> list[int]:
    """A cluster label per text (equal texts share one); labels are numbered by first appearance."""
    if not texts:
        return []
    unique = list(dict.fromkeys(texts))
    if len(unique) == 1:
        return [0] * len(texts)
    from sklearn.cluster import AgglomerativeClustering

    vectors = _embed(unique)
    raw = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                  distance_threshold=threshold).fit_predict(vectors)
    renumber: dict[int, int] = {}
    label_of = {t: renumber.setdefault(int(label), len(renumber)) for t, label in zip(unique, raw, strict=True)}
    return [label_of[t] for t in texts]


def _embed(texts: list[str]) -> np.ndarray:
    """(n, 384) e5 vectors of ``texts``; a text seen before in this process is not embedded again (the dashboard
    asks for the same range's clusters repeatedly, and every cluster's representatives reuse the vectors)."""
    from sangdam.knowledge.embedding import embed_queries

    with _CACHE_LOCK:
        known = {t: _CACHE[t] for t in dict.fromkeys(texts) if t in _CACHE}
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        fresh = dict(zip(missing, embed_queries(missing), strict=True))
        known.update(fresh)
        with _CACHE_LOCK:
            _CACHE.update(fresh)
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    return np.stack([known[t] for t in texts])


def representatives(texts: list[str], limit: int = MAX_EXAMPLES) -> list[str]:
    """Up to ``limit`` distinct texts of one cluster, closest to its centroid first (ties: most frequent)."""
    counts = Counter(texts)
    unique = list(counts)
    if len(unique) <= 1:
        return unique[:limit]
    vectors = _embed(unique)
    centroid = vectors.mean(axis=0)
    closeness = vectors @ centroid
    order = sorted(range(len(unique)), key=lambda i: (-round(float(closeness[i]), 4), -counts[unique[i]], unique[i]))
    return [unique[i] for i in order[:limit]]


# -- FAQ suggestions ------------------------------------------------------------------------------------------
def suggest_faq(examples: list[str], size: int, llm: Any = None) -> tuple[str, Literal["llm", "template"]]:
    """A suggested FAQ entry for a cluster: the LLM's draft when the strong role may write Korean for customers,
    else the template listing the utterances (also when the LLM fails or answers nothing)."""
    from sangdam.orchestrator.responder import capable_writer

    if llm is not None and capable_writer(llm):
        try:
            result = llm.chat([{"role": "system", "content": _text("faq.llm_system")},
                               {"role": "user", "content": "\n".join(f"- {e}" for e in examples)}],
                              role="strong", max_tokens=300, temperature=0.2)
            drafted = (getattr(result, "text", "") or "").strip()
            if drafted:
                return drafted, "llm"
        except Exception:  # noqa: BLE001 - a failing model must not lose the report: the template stands in
            pass
    utterances = "\n".join(_text("faq.utterance", text=e) for e in examples)
    return _text("faq.template", example=examples[0], size=size, utterances=utterances), "template"


def build_gap_report(engine: Engine, since: dt.date, until: dt.date, *, conversations_in_range: int,
                     llm: Any = None, threshold: float = DISTANCE_THRESHOLD) -> GapReport:
    """Collect, cluster and describe the range's gaps; ``conversations_in_range`` is the share's denominator."""
    gaps = collect_gaps(engine, since, until)
    used = gaps[-MAX_UTTERANCES:]
    labels = cluster_utterances([g.text for g in used], threshold)
    members: dict[int, list[GapUtterance]] = defaultdict(list)
    for gap, label in zip(used, labels, strict=True):
        members[label].append(gap)
    clusters = []
    for items in sorted(members.values(), key=lambda m: (-len(m), m[0].text)):
        examples = representatives([g.text for g in items])
        convs = len({g.conversation_id for g in items})
        faq, by = suggest_faq(examples, len(items), llm)
        clusters.append(GapCluster(
            cluster=len(clusters) + 1, size=len(items), conversations=convs,
            share_of_gaps=round(len(items) / len(used), 4),
            share_of_conversations=round(convs / conversations_in_range, 4) if conversations_in_range else 0.0,
            kinds=dict(Counter(g.kind for g in items)), examples=examples, faq=faq, faq_by=by))
    return GapReport(since=since, until=until, total=len(gaps), used=len(used), clusters=clusters)
