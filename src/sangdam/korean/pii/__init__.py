"""PII detection and masking for Korean contact-centre utterances.

>>> mask("제 번호는 공일공 일이삼사 오육칠팔이에요").masked
'제 번호는 [전화번호]이에요'

Detection is regex shapes + validators (Luhn, registration-number checksums and dates) + context words, on a
normalised copy of the text whose offsets map back to the original. See docs/pii.md.
"""

from sangdam.korean.pii.detector import apply_mask, detect, mask
from sangdam.korean.pii.lexicon import placeholder
from sangdam.korean.pii.models import PII_FIELDS, Entity, MaskResult, PiiType

__all__ = ["PII_FIELDS", "Entity", "MaskResult", "PiiType", "apply_mask", "detect", "mask", "placeholder"]
