"""The open-world scenario set of the LLM agent (``evalsets/agent-2026-12/``) with the scripted model: the plumbing.

Every scenario must pass, and each must really exercise the agent: its first message reaches the agent through the
real router (``out_of_scope`` or a CannotHandle clause — the scripted model would otherwise be asked nothing and a
procedure could satisfy the expectations), and the model is asked exactly as often as the script has actions (a
script that is not used up means a step was skipped). All of it on both backend adapters: ``sql`` (the demo tables)
and ``rest`` (the tools over HTTP against a live reference BSS process, ``sangdam bss serve``, started by the same
:class:`RestHarness` that ``sangdam eval --backend rest`` uses). Also: the scenario key ``agentic`` (loader, runner).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from sangdam.evaluation.llm_choice import make_llm_provider
from sangdam.evaluation.loader import ScenarioLoadError, load_scenarios, parse_file
from sangdam.evaluation.rest_harness import RestHarness
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


_RUNS: dict[str, dict[str, Any]] = {}  # each backend's run of the set, for the comparison of rest with sql


@pytest.fixture(scope="module", params=["sql", "rest"])
def evalset_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole set on one backend adapter; ``rest``: one live reference BSS for the run, pointed at each scenario's
    operator database in turn (what ``sangdam eval --backend rest`` does)."""
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
        adapters[current[0]] = getattr(kwargs.get("backend"), "name", "sql")  # None: the sql adapter on the store
        return _Recording(default_orchestrator_factory(*args, **kwargs), traces.setdefault(current[0], []))

    adapters: dict[str, str] = {}
    bss_calls: dict[str, Counter[str]] = {}  # rest: the BSS's own count of API calls per operationId, per scenario
    harness = RestHarness.start(tmp_path_factory.mktemp("bss")) if request.param == "rest" else None
    seen: Counter[str] = Counter()

    def count_bss_calls(result: Any) -> None:
        if harness is not None:
            now = Counter(harness.admin("GET", "/calls")["data"])
            bss_calls[result.id] = now - seen
            seen.clear()
            seen.update(now)

    runner = ScenarioRunner(llm_provider=provider, orchestrator_factory=factory, backend_harness=harness)
    try:
        report = runner.run(loaded, on_result=count_bss_calls)
        mapping = harness.backend.mapping if harness is not None else None
    finally:
        runner.close()  # stops the BSS process too
    run = {"backend": request.param, "loaded": loaded, "report": report, "routers": routers, "traces": traces,
           "adapters": adapters, "bss_calls": bss_calls, "mapping": mapping}
    _RUNS[request.param] = run
    return run


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
    unasked = run_of("agent-adv-write-without-asking")  # a change nobody asked for is not even proposed
    assert unasked["refused_actions"] == ["not_requested"] and unasked["ended"] == "answered"
    assert run_of("agent-unverified-compare")["ended"] == "identify"
    assert run_of("agent-unverified-compare", 1)["ended"] == "answered"


# -- the rest adapter: the tools really went to the BSS, and answered as on sql -----------------------------------

def _tool_records(run: dict[str, Any], sid: str) -> list[list[dict[str, Any]]]:
    """Each turn's tool calls (name, args, status, result, error code; the latency left out)."""
    return [[{k: v for k, v in call.items() if k != "latency_ms"} for call in trace["tool_calls"]]
            for trace in run["traces"][sid]]


@pytest.mark.parametrize("evalset_run", ["rest"], indirect=True)
def test_on_rest_every_tool_call_went_to_the_bss(evalset_run: dict[str, Any]) -> None:
    """Every conversation ran on the rest adapter, and each tool call that reached the operator's systems (a read,
    a write's preview when proposed, its commit when confirmed) is an HTTP call the BSS counted."""
    assert set(evalset_run["adapters"].values()) == {"rest"}
    mapping, short = evalset_run["mapping"], {}
    for item in evalset_run["loaded"]:
        sid = item.scenario.id
        want: Counter[str] = Counter()
        for turn in _tool_records(evalset_run, sid):
            for call in turn:
                part = {"ok": "read", "proposed": "preview"}.get(call["status"])
                entry = part and (mapping.call(call["name"], part)
                                  or (call["status"] == "ok" and mapping.call(call["name"], "commit")))
                if entry:  # verify_identity has none: a lookup (searchSubscribers), not a tool entry
                    want[entry.operation] += 1
        got = evalset_run["bss_calls"][sid]
        if not want or want - got:
            short[sid] = (dict(want), dict(got))
    assert not short


@pytest.mark.parametrize("evalset_run", ["rest"], indirect=True)
def test_on_rest_every_tool_answers_as_on_sql(evalset_run: dict[str, Any]) -> None:
    """The same calls with the same arguments get the same results (and the same refusals) from the rest adapter
    and the BSS as from the sql adapter on the same fixtures: a difference is a defect of the adapter or the BSS."""
    if "sql" not in _RUNS:
        pytest.skip("the sql run of the set did not run in this session (select both backends)")
    sql = _RUNS["sql"]
    differ = {}
    for item in evalset_run["loaded"]:
        sid = item.scenario.id
        if _tool_records(sql, sid) != _tool_records(evalset_run, sid):
            differ[sid] = (_tool_records(sql, sid), _tool_records(evalset_run, sid))
    assert not differ


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
