"""Privacy stage of a turn: mask PII before anything else sees the text, keep originals for tools only.

Each conversation has a ``PiiVault`` (``sangdam.korean.vault``). The identity parts a customer offers
(phone number, birth date) are held here, in memory, until a verification succeeds or is refused for good.
A birth date given to identify oneself is masked like any PII (``[생년월일#1]``): it is the second factor.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sangdam.korean.extract import canonical_phone, find_birth_date, find_local_mobile, find_partial_birth_date
from sangdam.korean.pii import Entity, PiiType
from sangdam.korean.pii import mask as mask_pii
from sangdam.korean.pii.lexicon import get_lexicon
from sangdam.korean.vault import PiiVault

MAX_LIVE_CONVERSATIONS = 10_000  # vaults kept in memory (least recently used dropped first)


@dataclass
class HeldIdentity:
    """The identity parts a customer has offered in this conversation.

    ``new_*``: given since the last verification attempt (an attempt needs at least one new part, so a
    correction of one part is tried with the other part kept). ``in_last_*``: given in the latest message.
    """

    phone: str | None = None
    birth: dt.date | None = None
    birth_year: int | None = None  # said on its own ("82년생"), waiting for the month and day
    birth_month_day: tuple[int, int] | None = None  # said on its own ("8월 30일"), waiting for the year
    new_phone: bool = False
    new_birth: bool = False
    in_last_phone: bool = False
    in_last_birth: bool = False

    @property
    def ready(self) -> bool:
        """Both parts known, and something new since the last attempt."""
        return bool(self.phone and self.birth and (self.new_phone or self.new_birth))

    @property
    def in_last_message(self) -> bool:
        return self.in_last_phone or self.in_last_birth


class Privacy:
    """Per-process privacy stage: vaults per conversation, identity parts awaiting verification."""

    def __init__(self) -> None:
        self._vaults: OrderedDict[str, PiiVault] = OrderedDict()
        self._identity: dict[str, HeldIdentity] = {}
        self._lock = threading.Lock()

    def _vault(self, conversation_id: str) -> PiiVault:
        with self._lock:
            vault = self._vaults.get(conversation_id)
            if vault is None:
                vault = self._vaults[conversation_id] = PiiVault(conversation_id)
                while len(self._vaults) > MAX_LIVE_CONVERSATIONS:
                    old, _ = self._vaults.popitem(last=False)
                    self._identity.pop(old, None)
            self._vaults.move_to_end(conversation_id)
            return vault

    def mask(self, conversation_id: str, text: str, today: dt.date | None = None, *, identifying: bool = True) -> str:
        """Masked ``text``; a phone number or birth date in it is kept aside for identity verification.

        ``identifying``: the customer is not verified yet, so a date that can be a birth date is one (masked
        and held), and so is part of one ("82년생", "8월 30일") or a mobile number said without 010. Otherwise
        only a whole date next to a birth-date word (생일, 생년월일, 년생 …) is.
        """
        vault = self._vault(conversation_id)
        with self._lock:
            held = self._identity.setdefault(conversation_id, HeldIdentity())
        found = _identity_parts(text, held, today, identifying)
        result = vault.mask_utterance(text, found.entities)
        phone = found.phone
        for ref in result.refs:
            entry = vault.resolve(ref)
            if entry.type is PiiType.PHONE:
                phone = canonical_phone(entry.value) or phone
        with self._lock:
            held.in_last_phone, held.in_last_birth = phone is not None, found.birth_part
            if phone:
                held.phone, held.new_phone = phone, True
            if found.birth:
                held.birth, held.new_birth = found.birth, True
                held.birth_year = held.birth_month_day = None
            else:
                held.birth_year = found.year or held.birth_year
                held.birth_month_day = found.month_day or held.birth_month_day
        return result.masked

    @staticmethod
    def mask_only(text: str) -> str:
        """Stateless masking for traces and logs (no vault entry)."""
        return mask_pii(text).masked

    def held(self, conversation_id: str) -> HeldIdentity:
        """A copy of the identity parts offered in the conversation (see ``HeldIdentity``)."""
        with self._lock:
            held = self._identity.get(conversation_id)
            return HeldIdentity(**vars(held)) if held else HeldIdentity()

    def identity(self, conversation_id: str) -> tuple[str | None, dt.date | None]:
        """(phone, birth date) offered by the customer and not yet verified."""
        held = self.held(conversation_id)
        return held.phone, held.birth

    def attempted(self, conversation_id: str) -> None:
        """A verification with the held parts failed: keep them (the customer may correct only one)."""
        with self._lock:
            held = self._identity.get(conversation_id)
            if held is not None:
                held.new_phone = held.new_birth = False

    def phones_in(self, conversation_id: str, masked_text: str) -> list[str | None]:
        """Digits of each phone number placeholder in ``masked_text`` ("[전화번호#2]"), in order; None for one
        this process cannot resolve (its vault did not survive a restart)."""
        vault = self._vault(conversation_id)
        known = {e.placeholder: re.sub(r"\D", "", e.canonical) for e in vault.entries(PiiType.PHONE)}
        return [known.get(m.group(0)) for m in _phone_placeholder().finditer(masked_text)]

    def forget_identity(self, conversation_id: str) -> None:
        """Drop the held parts (verified, or verification refused for good)."""
        with self._lock:
            self._identity.pop(conversation_id, None)


def _phone_placeholder() -> re.Pattern[str]:
    return re.compile(rf"\[{re.escape(get_lexicon().labels[PiiType.PHONE])}#\d+\]")


def _birth_words() -> re.Pattern[str]:
    return get_lexicon().positive[PiiType.BIRTH_DATE]


@dataclass
class _Found:
    """Identity parts read from one message, and the spans to mask that the PII detector does not report."""

    entities: list[tuple[Entity, str]] = field(default_factory=list)
    phone: str | None = None
    birth: dt.date | None = None
    year: int | None = None
    month_day: tuple[int, int] | None = None

    @property
    def birth_part(self) -> bool:
        return bool(self.birth or self.year or self.month_day)

    def mask(self, pii_type: PiiType, spans: Sequence[tuple[int, int]], canonical: str) -> None:
        self.entities += [(Entity(type=pii_type, start=s, end=e, score=0.9), canonical) for s, e in spans]


def _identity_parts(text: str, held: HeldIdentity, today: dt.date | None, identifying: bool) -> _Found:
    """What ``text`` gives of a phone number and birth date, completing or correcting the ``held`` ones."""
    found = _Found()
    whole = find_birth_date(text, today=today)
    if whole is not None and (identifying or _birth_words().search(text)):
        found.birth = whole.date
        found.mask(PiiType.BIRTH_DATE, whole.spans, whole.date.isoformat())
    if not identifying:
        return found
    part = find_partial_birth_date(text, today=today) if whole is None else None
    if part is not None:
        found.year, found.month_day = part.year, part.month_day
        base = held.birth
        year = part.year or (base.year if base else held.birth_year)
        month, day = part.month_day or ((base.month, base.day) if base else held.birth_month_day or (0, 0))
        with contextlib.suppress(ValueError):
            found.birth = dt.date(year, month, day) if year and month else None  # completed or corrected
        canonical = found.birth.isoformat() if found.birth else f"{part.year}:{part.month_day}"
        found.mask(PiiType.BIRTH_DATE, part.spans, canonical)
    # a number with its 010 left out; one the PII detector finds (the whole number) wins over it
    if (local := find_local_mobile(text)) is not None:
        (start, end), taken = local[1], [(ent.start, ent.end) for ent, _ in found.entities]
        if all(end <= s or start >= e for s, e in taken):
            found.phone = local[0]
            found.mask(PiiType.PHONE, [local[1]], local[0])
    return found
