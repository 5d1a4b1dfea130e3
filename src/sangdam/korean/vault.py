"""Per-conversation vault: masks each utterance and keeps the originals for tools only.

Models, logs, traces, transcripts and summaries see ``[전화번호#1]``; a tool such as ``verify_identity`` asks
the vault for the value behind it (``vault.reveal("phone#1")``) or for "the phone number the customer just
sent" (``vault.latest(PiiType.PHONE)``). The same value repeated later in the conversation gets the same
reference, so a model can say "[전화번호#1]로 문자 드릴게요" and the tool resolves it.

Persistence is a hook (``VaultStore``): the default keeps entries in process memory; a deployment plugs in
an encrypted table. Whatever store is used, the values never leave it except through ``reveal``/``latest``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from sangdam.korean.extract import canonical_digits, canonical_phone
from sangdam.korean.pii import Entity, PiiType, apply_mask, detect, placeholder
from sangdam.korean.pii.lexicon import get_lexicon
from sangdam.korean.pii.pieces import OpenPiece, complete, open_pieces

_REF_RE = re.compile(r"^\[?(?P<name>[^\[\]#]+)#(?P<n>[1-9][0-9]*)\]?$")


class VaultEntry(BaseModel):
    """One original value, its reference (``phone#1``) and where in the conversation it appeared."""

    model_config = ConfigDict(frozen=True)

    ref: str = Field(description="Stable reference: '<type>#<n>', n counted per type from 1.")
    type: PiiType
    value: str = Field(repr=False, description="The text exactly as the customer wrote or said it.")
    canonical: str = Field(repr=False, description="Comparable form: digits, 010-1234-5678, lower-case e-mail.")
    turn: int = Field(ge=0, description="Index of the masked utterance that first contained it.")
    pieces: int = Field(
        default=1, ge=1, description="Utterances the value was given in: 2 when its rest came in the next turn."
    )

    @property
    def placeholder(self) -> str:
        """What the models see instead of the value, e.g. ``[전화번호#1]``."""
        return placeholder(self.type)[:-1] + f"#{self.ref.split('#')[1]}]"


class VaultMasked(BaseModel):
    """Result of ``PiiVault.mask_utterance``: masked text, the spans found, and their references."""

    masked: str
    entities: list[Entity]
    refs: list[str]


class UnknownReference(KeyError):
    """``reveal`` was given a reference this conversation never produced."""


class VaultStore(Protocol):
    """Persistence hook for vault entries (implement with an encrypted table in production)."""

    def load(self, conversation_id: str) -> list[VaultEntry]:
        """Entries saved for the conversation, oldest first (empty if none)."""
        ...

    def save(self, conversation_id: str, entries: list[VaultEntry]) -> None:
        """Replace the conversation's saved entries."""
        ...


class InMemoryVaultStore:
    """Process-memory ``VaultStore`` (the default; lost on restart, which is the safe failure)."""

    def __init__(self) -> None:
        self._data: dict[str, list[VaultEntry]] = {}

    def load(self, conversation_id: str) -> list[VaultEntry]:
        return list(self._data.get(conversation_id, []))

    def save(self, conversation_id: str, entries: list[VaultEntry]) -> None:
        self._data[conversation_id] = list(entries)


def _canonical(pii_type: PiiType, value: str) -> str:
    if pii_type is PiiType.PHONE:
        return canonical_phone(value) or canonical_digits(value)
    if pii_type is PiiType.EMAIL:
        return value.strip().lower()
    if pii_type is PiiType.PASSPORT:
        return value.strip().upper()
    return canonical_digits(value) or value.strip()


class PiiVault:
    """Masks a conversation's utterances and keeps the original values, retrievable by reference."""

    def __init__(self, conversation_id: str, store: VaultStore | None = None) -> None:
        self.conversation_id = conversation_id
        self._store: VaultStore = store if store is not None else InMemoryVaultStore()
        self._entries: list[VaultEntry] = self._store.load(conversation_id)
        self._turn = 1 + max((e.turn for e in self._entries), default=-1)
        # Last turn each reference was mentioned in (a repeated value is "the latest" again).
        self._last_seen: dict[str, int] = {e.ref: e.turn for e in self._entries}
        self._lock = threading.Lock()
        # The number the previous utterance left unfinished (digits only, in memory: a restart forgets it).
        self._open: list[OpenPiece] = []

    def mask_utterance(self, text: str, extra: Sequence[tuple[Entity, str]] = ()) -> VaultMasked:
        """Mask ``text`` with numbered placeholders, store new originals, and return the details.

        ``extra``: spans the caller knows to be personal data although ``detect`` does not report them (a
        birth date given for identification), each with its canonical value; one overlapping a detected
        entity is dropped (the detected one masks it already).
        """
        detected = detect(text)
        with self._lock:
            pending = self._open
        # The rest of a number begun in the previous utterance (a detected half replaces its own span).
        rest = complete(text, pending)
        overlaps = [d for d in detected if any(not (d.end <= r.start or d.start >= r.end) for r, _ in rest)]
        detected = [d for d in detected if d not in overlaps] + [r for r, _ in rest]
        found = [(e, _canonical(e.type, text[e.start : e.end])) for e in detected]
        found += [(e, c) for e, c in extra if all(e.end <= d.start or e.start >= d.end for d in detected)]
        found.sort(key=lambda pair: pair[0].start)
        entities = [e for e, _ in found]
        links = {id(r): piece for r, piece in rest}
        with self._lock:
            refs: list[str] = []
            added = False
            for ent, canonical in found:
                value = text[ent.start : ent.end]
                if id(ent) in links:
                    refs.append(self._link(links[id(ent)], ent, value))
                    added = True
                    continue
                entry = next((e for e in self._entries if e.type is ent.type and e.canonical == canonical), None)
                if entry is None:
                    n = 1 + sum(1 for e in self._entries if e.type is ent.type)
                    entry = VaultEntry(
                        ref=f"{ent.type.value}#{n}", type=ent.type, value=value, canonical=canonical, turn=self._turn
                    )
                    self._entries.append(entry)
                    added = True
                refs.append(entry.ref)
                self._last_seen[entry.ref] = self._turn
            self._open = [] if rest else self._pieces_left(text, entities, refs)
            self._turn += 1
            if added:
                self._store.save(self.conversation_id, self._entries)
            labels = [self._by_ref(r).placeholder for r in refs]
        return VaultMasked(masked=apply_mask(text, entities, labels), entities=entities, refs=refs)

    def _pieces_left(self, text: str, detected: list[Entity], refs: list[str]) -> list[OpenPiece]:
        """The number ``text`` left unfinished, with the reference its masked first piece got."""
        by_span = {(e.start, e.end): r for e, r in zip(detected, refs)}
        return [replace(p, ref=by_span.get(p.span) if p.span else None) for p in open_pieces(text, detected)]

    def _link(self, piece: OpenPiece, ent: Entity, value: str) -> str:
        """Store ``value`` as the rest of ``piece``: the first piece's entry (or a new one, when the first piece
        was not masked alone: "010" or a bank's first digits) becomes the whole number, under one reference."""
        first = next((e for e in self._entries if e.ref == piece.ref), None) if piece.ref else None
        whole = (first.value if first else piece.digits) + " " + value
        canonical = _canonical(ent.type, piece.digits + canonical_digits(value))
        if first is not None and first.type is ent.type:
            linked = first.model_copy(update={"value": whole, "canonical": canonical, "pieces": first.pieces + 1})
            self._entries[self._entries.index(first)] = linked
        else:
            n = 1 + sum(1 for e in self._entries if e.type is ent.type)
            linked = VaultEntry(
                ref=f"{ent.type.value}#{n}", type=ent.type, value=whole, canonical=canonical, turn=self._turn, pieces=2
            )
            self._entries.append(linked)
        self._last_seen[linked.ref] = self._turn
        return linked.ref

    def mask(self, text: str) -> str:
        """``text`` with each piece of personal data replaced by ``[<label>#<n>]``; originals are kept."""
        return self.mask_utterance(text).masked

    def _by_ref(self, ref: str) -> VaultEntry:
        for e in self._entries:
            if e.ref == ref:
                return e
        raise UnknownReference(ref)

    def resolve(self, reference: str) -> VaultEntry:
        """The entry for ``phone#1``, ``전화번호#1`` or ``[전화번호#1]``."""
        m = _REF_RE.match(reference.strip())
        if m is None:
            raise UnknownReference(reference)
        name = m.group("name").strip()
        by_label = {label: t for t, label in get_lexicon().labels.items()}
        pii_type = by_label.get(name) or next((t for t in PiiType if t.value == name), None)
        if pii_type is None:
            raise UnknownReference(reference)
        with self._lock:
            return self._by_ref(f"{pii_type.value}#{m.group('n')}")

    def reveal(self, reference: str) -> str:
        """The original value behind a reference (for tools only; never log the result)."""
        return self.resolve(reference).value

    def latest(self, pii_type: PiiType) -> VaultEntry | None:
        """The most recently *mentioned* value of a type ("the phone number the customer just sent")."""
        with self._lock:
            matching = [e for e in self._entries if e.type is pii_type]
            return max(matching, key=lambda e: (self._last_seen.get(e.ref, e.turn), e.turn), default=None)

    def entries(self, pii_type: PiiType | None = None) -> list[VaultEntry]:
        """All stored entries (optionally of one type), oldest first."""
        with self._lock:
            return [e for e in self._entries if pii_type is None or e.type is pii_type]
