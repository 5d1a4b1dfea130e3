"""Data shapes of PII detection: what was found where, and the masked text."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PiiType(StrEnum):
    """Kinds of personal data; the values are the stable type codes of the CLI and the vault."""

    RRN = "rrn"  # 주민등록번호 (also split or partly written)
    FOREIGNER_RRN = "foreigner_rrn"  # 외국인등록번호
    PHONE = "phone"  # mobile and landline numbers
    CARD = "card"  # payment card numbers (Luhn)
    ACCOUNT = "account"  # bank account numbers
    EMAIL = "email"
    PASSPORT = "passport"
    DRIVER_LICENSE = "driver_license"
    IMEI = "imei"
    CARD_EXPIRY = "card_expiry"  # 카드 유효기간 (MM/YY), only next to its words and a card
    CARD_CVC = "card_cvc"  # CVC/CVV security code, only right after its word
    # The second identity factor. Not found by ``detect`` (dates stay readable in general): the privacy stage
    # masks a date the customer gives to identify themselves (``sangdam.korean.extract.find_birth_date``).
    BIRTH_DATE = "birth_date"


# Record fields that hold personal data whatever their value looks like: traces mask them by name (a birth date
# in a tool's arguments or result is an ordinary ISO date to the detector; a name or an address has no shape).
# Values are placeholder keys of resources/pii/labels.yaml: a PiiType, or "name"/"address" (masked only here).
PII_FIELDS: dict[str, str] = {
    "birth_date": PiiType.BIRTH_DATE, "customer_name": "name", "address": "address",
}


class Entity(BaseModel):
    """One piece of personal data: its type and its span ``[start, end)`` in the *original* text.

    The value itself is deliberately not part of the entity, so entities can be logged and traced.
    """

    model_config = ConfigDict(frozen=True)

    type: PiiType
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    score: float = Field(ge=0.0, le=1.0, description="Confidence after validators and context.")

    @model_validator(mode="after")
    def _ordered(self) -> Entity:
        if self.end <= self.start:
            raise ValueError(f"entity end {self.end} must be after start {self.start}")
        return self


class MaskResult(BaseModel):
    """The masked text and the entities that were replaced (offsets into the input)."""

    model_config = ConfigDict(frozen=True)

    masked: str
    entities: list[Entity]
