"""The shared Kiwi analyser: morpheme tokens for search and sentence splitting."""

from __future__ import annotations

from sangdam.korean.analyzer import get_kiwi, split_sentences, tokenize_for_search


def test_particles_are_dropped_so_inflected_nouns_match() -> None:
    forms = {w: tokenize_for_search(f"{w} 신청") for w in ("로밍은", "로밍을", "로밍이")}
    assert all("로밍" in toks for toks in forms.values())
    assert all(not any(t in ("은", "을", "이") for t in toks) for toks in forms.values())


def test_analyser_is_loaded_once() -> None:
    assert get_kiwi() is get_kiwi()


def test_sentences_split_without_punctuation() -> None:
    sents = split_sentences("요금제를 바꾸고 싶어요 그리고 로밍도 신청할게요")
    assert len(sents) == 2
