"""The intent taxonomy is a public contract; the routing data files cover it and keep test data apart."""

from __future__ import annotations

from sangdam.orchestrator.intents import AGENT_FOR_INTENT, INTENTS, SUB_AGENTS, agent_for
from sangdam.orchestrator.router_training import (
    load_dev_cases,
    load_heldout_set,
    load_training_set,
    normalize,
)

CONTRACT = [
    "billing.inquiry", "billing.payment", "plan.info", "plan.recommend", "plan.change", "data.usage",
    "data.refill", "roaming.enable", "roaming.disable", "roaming.info", "tech.troubleshoot", "line.suspend",
    "line.resume", "contract.info", "contract.cancel", "policy.question", "agent.human", "chitchat",
    "out_of_scope",
]  # fmt: skip


def test_taxonomy_is_exactly_the_contract() -> None:
    assert list(INTENTS) == CONTRACT


def test_every_intent_is_served_by_a_known_sub_agent_and_every_agent_serves_one() -> None:
    assert set(AGENT_FOR_INTENT) == set(CONTRACT)
    assert set(AGENT_FOR_INTENT.values()) == set(SUB_AGENTS)
    assert agent_for("roaming.enable") == "roaming"
    assert agent_for("out_of_scope") == "smalltalk"
    assert agent_for("policy.question") == "knowledge"


def test_training_data_has_forty_hand_written_utterances_per_intent() -> None:
    training = load_training_set()
    assert {k: len(v) >= 40 for k, v in training.intents.items()} == {i: True for i in CONTRACT}


def test_heldout_set_covers_every_intent_and_forty_multi_intent_requests() -> None:
    heldout = load_heldout_set()
    assert all(len(heldout.single.get(i, [])) >= 15 for i in CONTRACT)
    multi = [c for c in heldout.multi if len(c.intents) >= 2]
    assert len(multi) >= 40


def test_second_heldout_set_covers_every_intent_and_forty_multi_intent_requests() -> None:
    heldout = load_heldout_set("heldout_v2")
    assert all(len(heldout.single.get(i, [])) >= 10 for i in CONTRACT)
    assert len([c for c in heldout.multi if len(c.intents) >= 2]) >= 40


def test_no_heldout_or_dev_utterance_is_used_for_training() -> None:
    texts, _, _ = load_training_set().pairs()
    trained = {normalize(t).replace(" ", "") for t in texts}
    tested = [c.text for name in ("heldout", "heldout_v2") for c in load_heldout_set(name).cases()]
    tested += [c.text for c in load_dev_cases()]
    leaked = [t for t in tested if normalize(t).replace(" ", "") in trained]
    assert leaked == []
