"""Orchestration overhead: Sangdam vs LangGraph on the same 3-step agent turn (route → tool → reply).

Every variant runs the *same* three step functions on the *same* SQLite database in the *same* process,
interleaved turn by turn:

    route   the real intent classifier (``get_router().route``) or, with ``--router fixed``, a constant answer
    tool    ``get_tool("get_bills").run(ctx, {"months": 12})`` on the demo database
    reply   the billing template draft, phrased by a scripted LLM (``ScriptedBackend`` echoing the draft)

Each step records its own wall time into a per-turn clock; ``overhead = turn time − step time``, i.e. the time
spent in the framework itself. Variants (see bench/orchestration/README.md for exactly what each includes):

    direct            the three calls in a row, no framework (the measurement floor)
    langgraph         StateGraph route →(conditional edge)→ get_bills → reply, compiled once, no checkpointer
    langgraph+memory  the same graph compiled with InMemorySaver (state checkpointed per super-step)
    sangdam-core      Sangdam's planner, agent allow-list and AgentContext tool dispatch (trace record,
                      blackboard); no PII masking, verifier or persistence
    sangdam-full      the real ``Orchestrator.handle`` on an ongoing conversation: input checks, state load,
                      PII masking, planner, billing sub-agent, PII-masked trace records, verifier (draft and
                      phrasing), transcript/state/trace persistence in one SQLite transaction
    sangdam-full-new  the same, as the first turn of a new conversation: adds the once-per-conversation
                      proactive-notice check (three more read-tool calls, counted as overhead)

    .venv/bin/pip install -e '.[bench]'          # LangGraph, for this benchmark only
    .venv/bin/python bench/orchestration/overhead.py [--turns 500] [--warmup 50] [--router classifier|fixed]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.metadata
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

# LangSmith tracing off (its default when unset): no network, no tracing cost on the LangGraph side.
os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"

from sangdam.agents import build_agents  # noqa: E402
from sangdam.agents.base import AgentContext  # noqa: E402
from sangdam.domain.db import make_engine, migrate  # noqa: E402
from sangdam.domain.seed import seed  # noqa: E402
from sangdam.llm.scripted import ScriptedBackend  # noqa: E402
from sangdam.orchestrator import Orchestrator  # noqa: E402
from sangdam.orchestrator.blackboard import Blackboard  # noqa: E402
from sangdam.orchestrator.format import kdate, kperiod, say, won  # noqa: E402
from sangdam.orchestrator.planner import plan  # noqa: E402
from sangdam.orchestrator.router import RouteResult, get_router  # noqa: E402
from sangdam.orchestrator.state import ConversationState  # noqa: E402
from sangdam.tools import registry  # noqa: E402
from sangdam.tools.base import ToolContext  # noqa: E402

TODAY = dt.date(2026, 11, 15)
CUSTOMER = "C-DEMO-HEAVY"
TEXT = "이번 달 요금 얼마 나왔어요?"
INTENT = "billing.inquiry"
TOOL = "get_bills"
TOOL_ARGS = {"months": 12}
TOOL_FOR_INTENT = {INTENT: TOOL}  # the routing decision both frameworks make after the router step


# -- the shared, self-timing step functions --------------------------------------------------------------------
class StepClock:
    """Wall time and process CPU time spent inside the step functions during the current turn."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.cpu = 0.0

    def timed(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.spent += time.perf_counter() - t0
            self.cpu += time.process_time() - c0


class TimedRouter:
    """Router step: ``route(text) -> RouteResult`` (the object injected into ``Orchestrator(router=...)``)."""

    def __init__(self, clock: StepClock, kind: str) -> None:
        self.clock = clock
        self._fixed = RouteResult(intents=[INTENT], confidence=1.0, via="classifier")
        self._router = get_router() if kind == "classifier" else None

    def route(self, text: str) -> RouteResult:
        if self._router is None:
            return self.clock.timed(lambda: self._fixed)
        return self.clock.timed(self._router.route, text)


class TimedTool:
    """Tool step: the registry's real tool with ``run`` timed; installed in the registry so Sangdam's agents,
    the LangGraph node and the direct baseline all call exactly this object through ``get_tool``."""

    def __init__(self, tool: Any, clock: StepClock) -> None:
        self._tool, self._clock = tool, clock

    def run(self, ctx: ToolContext, args: dict[str, Any] | None = None) -> Any:
        return self._clock.timed(self._tool.run, ctx, args)

    def __getattr__(self, name: str) -> Any:  # name, risk, is_write, preview, ...: the real tool's
        return getattr(self._tool, name)


class TimedLLM:
    """Reply step's LLM: the scripted backend behind the orchestrator's ``llm`` interface (role-aware ``chat``,
    ``capable_writer`` so the responder asks it to phrase the reply)."""

    capable_writer = True

    def __init__(self, clock: StepClock) -> None:
        self.clock = clock
        # The scripted model returns the draft unchanged: a valid phrasing the verifier accepts.
        self.backend = ScriptedBackend(lambda request: request.messages[-1].content or "")

    def chat(self, messages: Any, *, role: str = "strong", **kwargs: Any) -> Any:
        result = self.clock.timed(self.backend.chat, messages, **kwargs)
        self.backend.calls.clear()  # the scripted backend records every call; keep memory flat
        return result


def draft_reply(bills: Any) -> str:
    """The billing template for the most recent bill (what Sangdam's billing agent says for one line)."""
    bill = max(bills.bills, key=lambda b: b.period)
    return say("billing.bill", period=kperiod(bill.period), amount=won(bill.amount_krw), due=kdate(bill.due_date),
               status=say(f"billing.status.{bill.status}"))


class Steps:
    """The three step functions the non-``Orchestrator`` variants call."""

    def __init__(self, engine: Any, router: TimedRouter, llm: TimedLLM, clock: StepClock) -> None:
        self.engine, self.router, self.llm, self.clock = engine, router, llm, clock

    def route(self, text: str) -> RouteResult:
        return self.router.route(text)

    def tool(self, name: str, customer_id: str) -> Any:
        ctx = ToolContext(engine=self.engine, today=TODAY, customer_id=customer_id)
        return registry.get_tool(name).run(ctx, dict(TOOL_ARGS))

    def reply(self, bills: Any) -> str:
        def compose() -> str:
            draft = draft_reply(bills)
            messages = [{"role": "system", "content": say("llm.phrase_system")}, {"role": "user", "content": draft}]
            return self.llm.backend.chat(messages, max_tokens=400, temperature=0.2).text
        return self.clock.timed(compose)


# -- the variants ----------------------------------------------------------------------------------------------
class TurnState(TypedDict, total=False):
    text: str
    customer_id: str
    route: RouteResult
    bills: Any
    reply: str


def build_langgraph(steps: Steps, checkpointer: Any = None) -> Any:
    """route →(conditional edge on the intent)→ get_bills → reply, compiled once."""
    from langgraph.graph import END, START, StateGraph

    def route_node(state: TurnState) -> dict[str, Any]:
        return {"route": steps.route(state["text"])}

    def bills_node(state: TurnState) -> dict[str, Any]:
        return {"bills": steps.tool(TOOL, state["customer_id"])}

    def reply_node(state: TurnState) -> dict[str, Any]:
        return {"reply": steps.reply(state["bills"])}

    graph = StateGraph(TurnState)
    graph.add_node("route", route_node)
    graph.add_node(TOOL, bills_node)
    graph.add_node("reply", reply_node)
    graph.add_edge(START, "route")
    graph.add_conditional_edges("route", lambda s: TOOL_FOR_INTENT[s["route"].intents[0]], [TOOL])
    graph.add_edge(TOOL, "reply")
    graph.add_edge("reply", END)
    return graph.compile(checkpointer=checkpointer)


def make_variants(engine: Any, router: TimedRouter, llm: TimedLLM, clock: StepClock) -> dict[str, Callable[[int], str]]:
    """name → ``turn(i) -> reply``; everything built once, here, outside the timed region."""
    from langgraph.checkpoint.memory import InMemorySaver

    steps = Steps(engine, router, llm, clock)
    lean = build_langgraph(steps)
    saved = build_langgraph(steps, checkpointer=InMemorySaver())
    agents = build_agents()
    orch = Orchestrator(engine, today=TODAY, router=router, llm=llm)
    conversations: dict[int, str] = {}

    def direct(i: int) -> str:
        route = steps.route(TEXT)
        bills = steps.tool(TOOL_FOR_INTENT[route.intents[0]], CUSTOMER)
        return steps.reply(bills)

    def langgraph(i: int) -> str:
        return lean.invoke({"text": TEXT, "customer_id": CUSTOMER})["reply"]

    def langgraph_memory(i: int) -> str:
        config = {"configurable": {"thread_id": f"bench-{i}"}}  # a fresh thread per turn: the cheapest case for InMemorySaver
        return saved.invoke({"text": TEXT, "customer_id": CUSTOMER}, config)["reply"]

    def sangdam_core(i: int) -> str:
        route = steps.route(TEXT)
        step = plan(list(route.intents), TEXT)[0]
        agent = agents[step.agent]
        ctx = AgentContext(engine=engine, today=TODAY, conversation_id=f"bench-{i}",
                           state=ConversationState(verified_customer_id=CUSTOMER, authenticated=True), text=TEXT,
                           blackboard=Blackboard(), tool_calls=[], mask=_no_mask, allowed=frozenset(agent.tools))
        bills = ctx.call(TOOL_FOR_INTENT[step.intent], **TOOL_ARGS)
        return steps.reply(bills)

    ongoing = orch.start_conversation(customer_id=CUSTOMER)  # its first (warm-up) turn runs the notice check

    def sangdam_full(i: int) -> str:
        return orch.handle(ongoing, TEXT).reply

    def sangdam_full_new(i: int) -> str:
        return orch.handle(conversations.pop(i), TEXT).reply

    def open_conversation(i: int) -> None:  # not timed: like LangGraph's thread id, made before the turn
        conversations[i] = orch.start_conversation(customer_id=CUSTOMER)

    sangdam_full_new.before = open_conversation  # type: ignore[attr-defined]
    return {"direct": direct, "langgraph": langgraph, "langgraph+memory": langgraph_memory,
            "sangdam-core": sangdam_core, "sangdam-full": sangdam_full, "sangdam-full-new": sangdam_full_new}


def _no_mask(text: str) -> str:
    return text


# -- measurement -----------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(variants: dict[str, Callable[[int], str]], clock: StepClock, turns: int, warmup: int) -> dict[str, Any]:
    """Interleave the variants turn by turn (rotating the order), return per-variant samples in ms."""
    names = list(variants)
    samples = {n: {"turn": [], "steps": [], "overhead": [], "cpu_overhead": []} for n in names}
    replies: dict[str, str] = {}
    for i in range(warmup + turns):
        if i == warmup:
            gc.collect()
        k = i % len(names)
        for name in names[k:] + names[:k]:
            fn = variants[name]
            before = getattr(fn, "before", None)
            if before is not None:
                before(i)
            clock.spent = clock.cpu = 0.0
            c0, t0 = time.process_time(), time.perf_counter()
            reply = fn(i)
            total = time.perf_counter() - t0
            cpu = time.process_time() - c0
            if i >= warmup:
                samples[name]["turn"].append(total * 1000)
                samples[name]["steps"].append(clock.spent * 1000)
                samples[name]["overhead"].append((total - clock.spent) * 1000)
                samples[name]["cpu_overhead"].append((cpu - clock.cpu) * 1000)
            replies[name] = reply
    return {"samples": samples, "replies": replies}


def summarise(samples: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {
        name: {f"{kind}_{q}": round(pct(values, p), 4) for kind, values in s.items() for q, p in (("p50", .5), ("p95", .95))}
        | {"overhead_mean": round(statistics.fmean(s["overhead"]), 4), "n": len(s["turn"])}
        for name, s in samples.items()
    }


# (label, path suffix, function name): where a full Sangdam turn spends its time (cumulative, may nest)
BREAKDOWN = [
    ("turn (Orchestrator.handle)", "orchestrator/engine.py", "handle"),
    ("  state load", "orchestrator/store.py", "load"),
    ("  PII masking of the utterance", "orchestrator/privacy.py", "mask"),
    ("  preference detection", "orchestrator/engine.py", "_remember_preferences"),
    ("  router step (excluded)", "orchestration/overhead.py", "route"),
    ("  planner", "orchestrator/planner.py", "plan"),
    ("  billing agent (incl. tool)", "agents/billing.py", "handle"),
    ("    tool step (excluded)", "orchestration/overhead.py", "run"),
    ("    tool result → JSON (trace)", "pydantic/main.py", "model_dump"),
    ("    PII-masked trace record", "agents/base.py", "_record"),
    ("  responder: compose + verify", "orchestrator/responder.py", "compose"),
    ("    verifier (draft + phrasing)", "orchestrator/verifier.py", "check"),
    ("    customer's own PII lookup", "orchestrator/responder.py", "_own_pii"),
    ("    LLM step (excluded)", "orchestration/overhead.py", "chat"),
    ("  trace dict", "orchestrator/engine.py", "_trace"),
    ("  persistence (state, transcript, trace)", "orchestrator/store.py", "save_turn"),
]


def breakdown(turn: Callable[[int], str], n: int) -> list[tuple[str, float]]:
    """cProfile ``n`` turns; each label's cumulative time as a share of the turn (indicative: the profiler
    slows pure-Python code more than C code)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(n):
        turn(i)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    cumulative = {}
    for label, suffix, func in BREAKDOWN:
        cumulative[label] = sum(v[3] for (path, _, name), v in stats.items()
                                if name == func and path.replace("\\", "/").endswith(suffix))
    total = cumulative[BREAKDOWN[0][0]] or 1.0
    return [(label, cumulative[label] / total) for label, _, _ in BREAKDOWN]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=500, help="measured turns per variant (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured turns per variant first (default 50)")
    parser.add_argument("--router", choices=["classifier", "fixed"], default="classifier")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON after the table")
    parser.add_argument("--breakdown", type=int, default=0, metavar="N",
                        help="then profile N sangdam-full turns and print where the time goes")
    parser.add_argument("--quick", action="store_true", help="10 turns, 2 warm-up: checks it runs (make test)")
    args = parser.parse_args()
    if args.quick:
        args.turns, args.warmup = 10, 2
    if args.turns < 1 or args.warmup < 1:
        parser.error("--turns and --warmup must be at least 1")
    try:
        lg_version = importlib.metadata.version("langgraph")
    except importlib.metadata.PackageNotFoundError:
        sys.exit("LangGraph is not installed: .venv/bin/pip install -e '.[bench]' (benchmark-only dependency)")

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        seed(engine, today=TODAY)
        clock = StepClock()
        tools = registry._tools()  # the registry's cached name → Tool map: wrap one tool with a timer
        tools[TOOL] = TimedTool(tools[TOOL], clock)
        router = TimedRouter(clock, args.router)
        variants = make_variants(engine, router, TimedLLM(clock), clock)
        result = measure(variants, clock, args.turns, args.warmup)
        shares = breakdown(variants["sangdam-full"], args.breakdown) if args.breakdown else []

    replies = result["replies"]
    expected = replies["direct"]
    for name, reply in replies.items():  # every variant must have done the same work
        if expected not in reply:
            sys.exit(f"{name} replied {reply!r}, expected it to contain {expected!r}")
    summary = summarise(result["samples"])
    print(f"LangGraph {lg_version}, Python {sys.version.split()[0]}, router={args.router}, "
          f"{args.turns} measured turns per variant after {args.warmup} warm-up, interleaved")
    print(f"reply: {expected}")
    print(f"{'':18} {'wall clock':-^59} {'CPU time':-^19}")
    print(f"{'variant':18} {'turn p50':>9} {'turn p95':>9} {'steps p50':>9} {'ovh p50':>9} {'ovh p95':>9} "
          f"{'ovh mean':>9} {'ovh p50':>9} {'ovh p95':>9}   (ms)")
    for name, s in summary.items():
        print(f"{name:18} {s['turn_p50']:9.3f} {s['turn_p95']:9.3f} {s['steps_p50']:9.3f} "
              f"{s['overhead_p50']:9.3f} {s['overhead_p95']:9.3f} {s['overhead_mean']:9.3f} "
              f"{s['cpu_overhead_p50']:9.3f} {s['cpu_overhead_p95']:9.3f}")
    ratios = {}
    for ours, theirs in (("sangdam-core", "langgraph"), ("sangdam-full", "langgraph"),
                         ("sangdam-full", "langgraph+memory"), ("sangdam-full-new", "langgraph+memory")):
        ratios[f"{ours}/{theirs}"] = {f"{kind}_{q}": round(summary[ours][f"{kind}_{q}"] / summary[theirs][f"{kind}_{q}"], 3)
                                      for kind in ("overhead", "cpu_overhead") for q in ("p50", "p95")}
    print("overhead ratios (Sangdam / LangGraph; goal ≤ 0.1):")
    for key, r in ratios.items():
        verdict = "meets" if r["overhead_p50"] <= 0.1 and r["overhead_p95"] <= 0.1 else "misses"
        print(f"  {key:34} wall p50 {r['overhead_p50']:7.3f} p95 {r['overhead_p95']:7.3f}   "
              f"CPU p50 {r['cpu_overhead_p50']:7.3f} p95 {r['cpu_overhead_p95']:7.3f}   ({verdict} the goal)")
    if shares:
        print(f"where a sangdam-full turn goes (cProfile, {args.breakdown} turns, share of the turn):")
        for label, share in shares:
            print(f"  {label:42} {share * 100:5.1f}%")
    if args.json:
        print(json.dumps({"langgraph": lg_version, "router": args.router, "turns": args.turns,
                          "summary": summary, "ratios": ratios}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
