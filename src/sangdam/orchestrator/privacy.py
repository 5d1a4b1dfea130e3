"""Privacy stage of a turn: mask PII before anything else sees the text, keep originals for tools only.

Each conversation has a ``PiiVault`` (``sangdam.korean.vault``). The identity parts a customer offers
(phone number, birth date) are held here, in memory, until a verification succeeds or is refused for good.
A birth date given to identify oneself is masked like any PII (``[생년월일#1]``): it is the second factor.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from sangdam.korean.extract import canonical_phone, find_birth_date
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
        and held). Otherwise only a date next to a birth-date word (생일, 생년월일, 년생 …) is.
        """
        vault = self._vault(conversation_id)
        birth = find_birth_date(text, today=today)
        if birth is not None and not identifying and not _birth_words().search(text):
            birth = None
        extra = [
            (Entity(type=PiiType.BIRTH_DATE, start=s, end=e, score=0.9), birth.date.isoformat())
            for s, e in (birth.spans if birth else ())
        ]
        result = vault.mask_utterance(text, extra)
        phone = None
        for ref in result.refs:
            entry = vault.resolve(ref)
            if entry.type is PiiType.PHONE:
                phone = canonical_phone(entry.value) or phone
        with self._lock:
            held = self._identity.setdefault(conversation_id, HeldIdentity())
            held.in_last_phone, held.in_last_birth = phone is not None, birth is not None
            if phone:
                held.phone, held.new_phone = phone, True
            if birth:
                held.birth, held.new_birth = birth.date, True
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

    def forget_identity(self, conversation_id: str) -> None:
        """Drop the held parts (verified, or verification refused for good)."""
        with self._lock:
            self._identity.pop(conversation_id, None)


def _birth_words() -> re.Pattern[str]:
    return get_lexicon().positive[PiiType.BIRTH_DATE]
