"""Placeholder labels and context lexicons, read once from ``resources/pii/``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from sangdam.korean.pii.models import PiiType


_PII_RESOURCES = Path(__file__).resolve().parent.parent.parent / "resources" / "pii"


def _load(name: str) -> dict:
    text = (_PII_RESOURCES / name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"resources/pii/{name} must be a mapping")
    return data


def _alternation(words: list[str]) -> re.Pattern[str]:
    # Longest first, so "주민등록번호" is preferred over "주민" (only matters for readability of matches).
    return re.compile("|".join(re.escape(w.lower()) for w in sorted(set(words), key=len, reverse=True)))


@dataclass(frozen=True)
class Lexicon:
    """Compiled context lexicons."""

    labels: dict[PiiType, str]
    field_labels: dict[str, str]  # placeholders of record fields only (name, address): PII_FIELDS
    positive: dict[PiiType, re.Pattern[str]]
    negative: re.Pattern[str]
    rrn_front: re.Pattern[str]
    rrn_back: re.Pattern[str]
    bank: re.Pattern[str]
    window_before: int
    window_after: int


@lru_cache(maxsize=1)
def get_lexicon() -> Lexicon:
    """The process-wide lexicon (validated: every PiiType has a label and positive context words)."""
    labels_raw = _load("labels.yaml")
    ctx = _load("context.yaml")
    banks = _load("banks.yaml")["banks"]
    missing = [t.value for t in PiiType if t.value not in labels_raw or t.value not in ctx["positive"]]
    if missing:
        raise ValueError(f"resources/pii: no label or context words for {missing}")
    return Lexicon(
        labels={t: str(labels_raw[t.value]) for t in PiiType},
        field_labels={str(k): str(v) for k, v in labels_raw.items() if k not in set(PiiType)},
        positive={t: _alternation(ctx["positive"][t.value]) for t in PiiType},
        negative=_alternation(ctx["negative"]),
        rrn_front=_alternation(ctx["rrn_front"]),
        rrn_back=_alternation(ctx["rrn_back"]),
        bank=_alternation(banks),
        window_before=int(ctx["window_before"]),
        window_after=int(ctx["window_after"]),
    )


def placeholder(pii_type: PiiType | str) -> str:
    """The typed Korean placeholder for ``pii_type`` (or a field-only key: ``name``, ``address``), e.g.
    ``[전화번호]``."""
    lex = get_lexicon()
    return f"[{lex.labels[pii_type] if pii_type in lex.labels else lex.field_labels[pii_type]}]"
