"""The open-world scenario set of the LLM agent (``evalsets/agent-2026-12/``) with the scripted model: the plumbing.

Every scenario must pass, and each must really exercise the agent: its first message reaches the agent through the
real router (``out_of_scope`` or a CannotHandle clause — the scripted model would otherwise be asked nothing and a
procedure could satisfy the expectations), and the model is asked exactly as often as the script has actions (a
script that is not used up means a step was skipped). Also: the scenario key ``agentic`` (loader, runner).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sangdam.evaluation.llm_choice import make_llm_provider
from sangdam.evaluation.loader import ScenarioLoadError, load_scenarios, parse_file
from sangdam.evaluation.runner import ScenarioRunner, default_orchestrator_factory
from sangdam.evaluation.scenario import Scenario

SET = Path(__file__).resolve().parents[1] / "evalsets" / "agent-2026-12"


class _Recording:
    """The real orchestrator; keeps each turn's trace (its ``llm_calls`` hold the agent's run)."""

    def __init__(self, orch: Any, traces: list[dict[str, Any]]) -> None:
        self.orch, self.traces = orch, traces

    def start_conversation(self, **kwargs: Any) -> str:
        return self.orch.start_conversation(**kwargs)

    def handle(self, conversation_id: str, text: str) -> Any:
        result = self.orch.handle(conversation_id, text)
        self.traces.append(self.orch.traces(conversation_id)[-1])
        return result


@pytest.fixture(scope="module")
def evalset_run() -> dict[str, Any]:
    loaded = load_scenarios([SET / "scenarios"])
    scripted = make_llm_provider("scripted")
    routers: dict[str, Any] = {}
    traces: dict[str, list[dict[str, Any]]] = {}
    current: list[str] = []

    def provider(scenario: Scenario) -> Any:
        current[:] = [scenario.id]
        routers[scenario.id] = scripted(scenario)
        return routers[scenario.id]

    def factory(*args: Any, **kwargs: Any) -> Any:
        return _Recording(default_orchestrator_factory(*args, **kwargs), traces.setdefault(current[0], []))

    runner = ScenarioRunner(llm_provider=provider, orchestrator_factory=factory)
    try:
        report = runner.run(loaded)
    finally:
        runner.close()
    return {"loaded": loaded, "report": report, "routers": routers, "traces": traces}


def test_the_set_is_large_and_varied_enough() -> None:
    loaded = load_scenarios([SET / "scenarios"])
    assert len(loaded) >= 40
    tags = {t for item in loaded for t in item.scenario.tags}
    assert {"comparison", "why", "combined", "write", "unverified", "adversarial"} <= tags
    assert all(item.scenario.agentic and item.scenario.llm_responses for item in loaded)
    assert sum(len(item.scenario.turns) > 1 for item in loaded) >= 10  # multi-turn: writes, identity, follow-ups


def test_every_scenario_passes_with_the_scripted_model(evalset_run: dict[str, Any]) -> None:
    report = evalset_run["report"]
    failed = {s.id: s.failures for s in report.scenarios if not s.passed}
    assert not failed
    assert report.pass_rate == 1.0 and report.total == len(evalset_run["loaded"])


def test_every_first_message_reaches_the_agent(evalset_run: dict[str, Any]) -> None:
    missed = []
    for item in evalset_run["loaded"]:
        first = evalset_run["traces"][item.scenario.id][0]
        agent_runs = [c for c in first["llm_calls"] if c.get("purpose") == "agent"]
        if len(agent_runs) != 1:  # routed out of scope, or unsure: either way the whole message is the agent's
            missed.append((item.scenario.id, first["intents"], len(agent_runs)))
    assert not missed


def test_the_model_is_asked_exactly_what_was_scripted(evalset_run: dict[str, Any]) -> None:
    unused = {}
    for item in evalset_run["loaded"]:
        backend = evalset_run["routers"][item.scenario.id].backend("strong")
        if len(backend.calls) != len(item.scenario.llm_responses or []):
            unused[item.scenario.id] = (len(backend.calls), len(item.scenario.llm_responses or []))
    assert not unused


def test_the_adversarial_runs_end_as_the_guarantees_say(evalset_run: dict[str, Any]) -> None:
    def run_of(sid: str, turn: int = 0) -> dict[str, Any]:
        calls = evalset_run["traces"][sid][turn]["llm_calls"]
        return next(c for c in calls if c.get("purpose") == "agent")

    assert run_of("agent-adv-invented-number")["rejected_drafts"] == 1
    assert run_of("agent-adv-invented-number")["ended"] == "answered"
    assert run_of("agent-adv-invented-twice")["ended"] == "unverified"
    assert run_of("agent-adv-computed-sum")["rejected_drafts"] == 1
    assert run_of("agent-adv-claims-done")["rejected_drafts"] == 1
    assert run_of("agent-adv-foreign-bill-twice")["ended"] == "model_error"  # the grammar check, twice
    assert run_of("agent-adv-repeated-call")["refused_actions"] == ["repeated_call"]
    assert run_of("agent-adv-injected-bill-item")["calls"] == ["explain_bill"]  # B-L9-… never read
    assert run_of("agent-adv-write-without-asking")["ended"] == "proposed"
    assert run_of("agent-unverified-compare")["ended"] == "identify"
    assert run_of("agent-unverified-compare", 1)["ended"] == "answered"


# -- the scenario key ``agentic`` ---------------------------------------------------------------------------------

def _scenario(**extra: Any) -> dict[str, Any]:
    return {"id": "s", "turns": [{"user": "안녕하세요"}], **extra}


def test_agentic_is_a_strict_boolean(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_scenario(agentic="yes"), allow_unicode=True), encoding="utf-8")
    scenarios, issues = parse_file(path)
    assert scenarios == [] and [i.field for i in issues] == ["agentic"]
    path.write_text(yaml.safe_dump(_scenario(agnetic=True), allow_unicode=True), encoding="utf-8")
    with pytest.raises(ScenarioLoadError, match="agnetic: unknown key"):
        load_scenarios([path])
    assert Scenario.model_validate(_scenario()).agentic is False


def test_agentic_makes_the_scripted_model_trusted_to_act() -> None:
    from sangdam.orchestrator.engine import _agentic_agent
    from sangdam.orchestrator.responder import Responder

    provider = make_llm_provider("scripted")
    trusted = provider(Scenario.model_validate(_scenario(agentic=True)))
    plain = provider(Scenario.model_validate(_scenario()))
    assert trusted.agentic is True and getattr(plain, "agentic", None) is None
    responder = Responder.__new__(Responder)
    assert _agentic_agent(trusted, responder) is not None
    assert _agentic_agent(plain, responder) is None
