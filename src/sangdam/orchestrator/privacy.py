"""Privacy stage of a turn: mask PII before anything else sees the text, keep originals for tools only.

Each conversation has a ``PiiVault`` (``sangdam.korean.vault``). The identity parts a customer offers
(phone number, birth date) are held here, in memory, until ``verify_identity`` has used them once.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict

from sangdam.korean.extract import canonical_phone, extract_birth_date
from sangdam.korean.pii import PiiType
from sangdam.korean.pii import mask as mask_pii
from sangdam.korean.vault import PiiVault

MAX_LIVE_CONVERSATIONS = 10_000  # vaults kept in memory (least recently used dropped first)


class Privacy:
    """Per-process privacy stage: vaults per conversation, identity parts awaiting verification."""

    def __init__(self) -> None:
        self._vaults: OrderedDict[str, PiiVault] = OrderedDict()
        self._identity: dict[str, tuple[str | None, dt.date | None]] = {}
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

    def mask(self, conversation_id: str, text: str, today: dt.date | None = None) -> str:
        """Masked ``text``; a phone number or birth date in it is kept aside for identity verification."""
        vault = self._vault(conversation_id)
        result = vault.mask_utterance(text)
        phone = None
        for ref in result.refs:
            entry = vault.resolve(ref)
            if entry.type is PiiType.PHONE:
                phone = canonical_phone(entry.value) or phone
        birth = extract_birth_date(text, today=today)
        if phone or birth:
            with self._lock:
                old_phone, old_birth = self._identity.get(conversation_id, (None, None))
                self._identity[conversation_id] = (phone or old_phone, birth or old_birth)
        return result.masked

    @staticmethod
    def mask_only(text: str) -> str:
        """Stateless masking for traces and logs (no vault entry)."""
        return mask_pii(text).masked

    def identity(self, conversation_id: str) -> tuple[str | None, dt.date | None]:
        """(phone, birth date) offered by the customer and not yet used for a verification attempt."""
        with self._lock:
            return self._identity.get(conversation_id, (None, None))

    def forget_identity(self, conversation_id: str) -> None:
        with self._lock:
            self._identity.pop(conversation_id, None)
