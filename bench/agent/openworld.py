"""The open-world set of the LLM agent (evalsets/agent-2026-12/) with a real model instead of the scripted one.

Runs each scenario's **first user turn** (and, for a one-turn scenario, its final checks; a later turn depends on what
the script did, so it is not run) with ``--llm embedded`` (the embedded Qwen2.5-Coder tiers; the agent uses the strong
one, 1.5B) or ``--llm <role config yaml>`` (e.g. an OpenAI-compatible server, docs/llm.md), with the agent forced on
(the router's ``agentic`` attribute, as for a profile with ``agentic: true``). Prints aggregates only:

- pass rate of the set's expectations for those turns;
- per-turn latency (the runner's wall clock of ``Orchestrator.handle``) p50/p95 by the number of agent steps (model
  calls in the turn);
- prompt / completion tokens per turn (the agent's ``AgentRun`` in the trace's ``llm_calls``, ``purpose: agent``);
- verifier rejection rate: rejected drafts / answer drafts (answers accepted + rejected), and turns with ≥ 1 rejection;
- how the agent's runs ended (answered, proposed, identify, unverified, limit_*, model_error);
- the agent's answer texts are not printed (aggregates only);
- turns where no agent ran (the router sent the message elsewhere: should be 0 for this set).

    .venv/bin/python bench/agent/openworld.py --llm embedded --stride 5 --budget-s 900
    .venv/bin/python bench/agent/openworld.py --llm ~/llm-server.yaml --json

``--agent-seconds`` sets ``SANGDAM_AGENT_MAX_SECONDS`` (default 30 s per turn, the deployment's default: on a small CPU
box the 1.5B model often needs more, and the turn then ends ``limit_time`` — which is the honest number to report).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sangdam.orchestrator import progress

ROOT = Path(__file__).resolve().parents[2]
SET = ROOT / "evalsets" / "agent-2026-12" / "scenarios"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


class _Recording:
    def __init__(self, orch: Any, sink: list[dict[str, Any]]) -> None:
        self.orch, self.sink = orch, sink

    def start_conversation(self, **kwargs: Any) -> str:
        return self.orch.start_conversation(**kwargs)

    def handle(self, conversation_id: str, text: str) -> Any:
        result = self.orch.handle(conversation_id, text)
        self.sink.append(self.orch.traces(conversation_id)[-1])
        return result


def first_turns(loaded: list[Any]) -> list[Any]:
    """Each scenario cut to its first turn (its final checks kept only when it has a single turn)."""
    from sangdam.evaluation.loader import LoadedScenario
    from sangdam.evaluation.scenario import FinalExpect

    out = []
    for item in loaded:
        sc = item.scenario
        update: dict[str, Any] = {"turns": sc.turns[:1]}
        if len(sc.turns) > 1:
            update["final"] = FinalExpect()
        out.append(LoadedScenario(sc.model_copy(update=update), item.file))
    return out


def trusted_provider(spec: str) -> Any:
    """The ``--llm`` provider with the agent forced on (the engine builds it when ``llm.agentic`` is truthy)."""
    from sangdam.evaluation.llm_choice import make_llm_provider

    base = make_llm_provider(spec)

    def provider(scenario: Any) -> Any:
        llm = base(scenario)
        llm.agentic = True
        return llm

    return provider


def run(spec: str, *, limit: int | None = None, stride: int = 1, tags: list[str] | None = None, budget_s: float | None = None,
        paths: list[str] | None = None) -> dict[str, Any]:
    from sangdam.evaluation.loader import load_scenarios
    from sangdam.evaluation.runner import ScenarioRunner, default_orchestrator_factory

    loaded = load_scenarios(paths or [SET])
    if tags:
        loaded = [i for i in loaded if set(tags) & set(i.scenario.tags)]
    loaded = loaded[::stride]
    if limit:
        loaded = loaded[:limit]
    items = first_turns(loaded)
    traces: list[dict[str, Any]] = []
    runner = ScenarioRunner(llm_provider=trusted_provider(spec),
                            orchestrator_factory=lambda *a, **k: _Recording(default_orchestrator_factory(*a, **k),
                                                                            traces))
    reports = []
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        for item in items:
            if budget_s is not None and time.monotonic() - started > budget_s:
                break
            before = len(traces)
            marks: dict[str, list[float]] = {"progress": [], "draft": []}
            with progress.listening(lambda _line: marks["progress"].append(time.monotonic()),
                                    draft=lambda _piece: marks["draft"].append(time.monotonic())):
                report = runner.run([item])
            sc_report = report.scenarios[0]
            reports.append(sc_report)
            trace = traces[before] if len(traces) > before else {}
            agent = [c for c in trace.get("llm_calls", []) if c.get("purpose") == "agent"]
            latency = sc_report.turns[0].latency_ms if sc_report.turns else float("nan")
            # the first sentence shown (the draft) and the whole run, from the agent's start (its first progress line)
            shown = (marks["draft"][0] - marks["progress"][0]) if marks["draft"] and marks["progress"] else None
            rows.append({"id": item.scenario.id, "passed": sc_report.passed, "latency_ms": latency,
                         "agent": agent, "tags": item.scenario.tags, "first_shown_s": shown,
                         "drafted": len(marks["draft"])})
            print(f"[{len(rows)}/{len(items)}] {'pass' if sc_report.passed else 'FAIL'} "
                  f"{latency / 1000:.1f}s steps={sum(a.get('steps', 0) for a in agent)} "
                  f"ended={','.join(a.get('ended', '') for a in agent) or '-'}"
                  + ("" if sc_report.passed else f" {item.scenario.id}: {'; '.join(map(str, _failures(sc_report)))[:300]}"),
                  file=sys.stderr, flush=True)
    finally:
        runner.close()
    result = aggregate(spec, rows, len(items))
    return result


def aggregate(spec: str, rows: list[dict[str, Any]], planned: int) -> dict[str, Any]:
    by_steps: dict[int, list[float]] = defaultdict(list)
    ended: Counter[str] = Counter()
    prompt, completion, rejected, drafts, turns_rejected, no_agent = [], [], 0, 0, 0, 0
    for row in rows:
        runs = row["agent"]
        if not runs:
            no_agent += 1
            continue
        steps = sum(r.get("steps", 0) for r in runs)
        by_steps[steps].append(row["latency_ms"])
        prompt.append(sum(r.get("prompt_tokens", 0) for r in runs))
        completion.append(sum(r.get("completion_tokens", 0) for r in runs))
        rej = sum(r.get("rejected_drafts", 0) for r in runs)
        rejected += rej
        drafts += rej + sum(1 for r in runs if r.get("ended") == "answered")
        turns_rejected += rej > 0
        ended.update(r.get("ended", "") for r in runs)
    agent_turns = len(rows) - no_agent
    return {
        "llm": spec,
        "turns_run": len(rows),
        "turns_planned": planned,
        "pass_rate": round(sum(r["passed"] for r in rows) / len(rows), 3) if rows else None,
        "passed": sum(r["passed"] for r in rows),
        "turns_without_agent": no_agent,
        "latency_s_by_steps": {
            str(k): {"turns": len(v), "p50": round(_pct(v, 0.5) / 1000, 2), "p95": round(_pct(v, 0.95) / 1000, 2)}
            for k, v in sorted(by_steps.items())},
        "latency_s_all": {"p50": round(_pct([r["latency_ms"] for r in rows], 0.5) / 1000, 2),
                          "p95": round(_pct([r["latency_ms"] for r in rows], 0.95) / 1000, 2)} if rows else {},
        "tokens_per_turn": {
            "prompt_mean": round(statistics.fmean(prompt)) if prompt else None,
            "prompt_max": max(prompt) if prompt else None,
            "completion_mean": round(statistics.fmean(completion)) if completion else None,
            "completion_max": max(completion) if completion else None},
        "verifier": {"rejected_drafts": rejected, "answer_drafts": drafts,
                     "rejection_rate": round(rejected / drafts, 3) if drafts else None,
                     "turns_with_rejection": turns_rejected, "agent_turns": agent_turns},
        "draft": _draft_stats(rows),
        "ended": dict(ended.most_common()),
        "passed_by_tag": _by_tag(rows),
    }


def _failures(report: Any) -> list[Any]:
    """What failed in a scenario's report (its turns' and final checks' failures)."""
    found = list(getattr(report, "failures", []) or [])
    for turn in getattr(report, "turns", []) or []:
        found += list(getattr(turn, "failures", []) or [])
    return found


def _draft_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How soon the customer saw the first verified sentence, against when the agent's run ended (answered turns)."""
    shown = [r for r in rows if r.get("first_shown_s") is not None]
    ends = [sum(a.get("seconds", 0.0) for a in r["agent"]) for r in shown]
    return {"turns_with_draft": len(shown), "sentences": sum(r.get("drafted", 0) for r in rows),
            "first_sentence_s_p50": round(_pct([r["first_shown_s"] for r in shown], 0.5), 2) if shown else None,
            "agent_done_s_p50": round(_pct(ends, 0.5), 2) if ends else None}


def _by_tag(rows: list[dict[str, Any]]) -> dict[str, str]:
    total: Counter[str] = Counter()
    ok: Counter[str] = Counter()
    for row in rows:
        for tag in row["tags"]:
            total[tag] += 1
            ok[tag] += row["passed"]
    return {t: f"{ok[t]}/{total[t]}" for t in sorted(total)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm", default="embedded", help="embedded | <role config yaml> (scripted: the plumbing)")
    ap.add_argument("--limit", type=int, default=None, help="first N scenarios (file order)")
    ap.add_argument("--stride", type=int, default=1, help="every K-th scenario (a spread over all files)")
    ap.add_argument("--tags", nargs="*", default=None, help="only scenarios with one of these tags")
    ap.add_argument("--budget-s", type=float, default=None, help="start no scenario after this many seconds")
    ap.add_argument("--agent-seconds", type=float, default=None, help="SANGDAM_AGENT_MAX_SECONDS for the run")
    ap.add_argument("--json", action="store_true", help="the aggregates as JSON (default: also JSON, indented)")
    ap.add_argument("paths", nargs="*", help="scenario files or folders (default: the agent-2026-12 set)")
    args = ap.parse_args(argv)
    if args.agent_seconds is not None:
        os.environ["SANGDAM_AGENT_MAX_SECONDS"] = str(args.agent_seconds)
    result = run(args.llm, limit=args.limit, stride=args.stride, tags=args.tags, budget_s=args.budget_s, paths=args.paths or None)
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
