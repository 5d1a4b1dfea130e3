"""Run scenarios through the orchestrator the server uses and grade them.

Each run of each scenario gets a fresh database (a copy of a template), a new orchestrator bound to it and a new
conversation; the turns are sent one by one, each result is graded against its ``expect`` block, then the final
database state, the bill totals and the after-call summary are checked.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from sangdam.evaluation import dbcheck
from sangdam.evaluation.checks import check_turn, matches, tool_calls_of
from sangdam.evaluation.databases import ScenarioDatabases
from sangdam.evaluation.fixtures_bridge import catalogue_parts, load_into
from sangdam.evaluation.loader import LoadedScenario
from sangdam.evaluation.report import EvalReport, ScenarioReport, ToolReport, TurnReport, build_report
from sangdam.evaluation.scenario import Scenario


class ConversationDriver(Protocol):
    """What the runner needs of an orchestrator (``sangdam.orchestrator.Orchestrator`` provides it)."""

    def start_conversation(self, customer_id: str | None = None, channel: str = "api") -> str: ...

    def handle(self, conversation_id: str, text: str) -> Any: ...


OrchestratorFactory = Callable[..., ConversationDriver]  # (store engine, today, llm[, backend=…])
LlmProvider = Callable[[Scenario], Any]


class BackendHarness(Protocol):
    """Serves each scenario's operator database through another backend than the default ``sql`` one on the same
    database (e.g. the ``rest`` adapter against a live reference BSS pointed at the scenario's copy). Sangdam's own
    store is then a separate, empty database."""

    name: str

    def attach(self, operator_engine: Engine, operator_path: Path, today: dt.date) -> Any:
        """The backend serving ``operator_path`` as of ``today`` (for this scenario run)."""
        ...

    def close(self) -> None: ...


def default_orchestrator_factory(engine: Engine, today: dt.date, llm: Any, backend: Any = None) -> ConversationDriver:
    """The real orchestrator, as the server builds it (``backend``: the operator's systems, default sql on
    ``engine``)."""
    from sangdam.orchestrator import Orchestrator

    return Orchestrator(engine, today=today, llm=llm, backend=backend)


def default_summarizer(engine: Engine, conversation_id: str) -> Any:
    """The after-call summary; ``None`` when the contact-centre module does not provide one."""
    try:
        from sangdam.contact_center.summary import summarize
    except ImportError:
        return None
    return summarize(engine, conversation_id)


def _summary_text(summary: Any) -> str:
    if hasattr(summary, "model_dump"):
        summary = summary.model_dump(mode="json")
    return summary if isinstance(summary, str) else json.dumps(summary, ensure_ascii=False, default=str)


def _origin(exc: BaseException) -> str:
    """`` (at file.py:123)``: the innermost frame of a crash, so a report reader knows where to look."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {Path(last.filename).name}:{last.lineno})"


@dataclass
class RunOutcome:
    """One run of one scenario."""

    passed: bool
    failures: list[str] = field(default_factory=list)
    turns: list[TurnReport] = field(default_factory=list)


class ScenarioRunner:
    """Runs loaded scenarios ``repeat`` times each and builds the report.

    ``llm_provider`` gives the LLM object for a scenario (scripted backends differ per scenario, an embedded model
    is shared); ``orchestrator_factory`` and ``summarizer`` are replaceable so the runner itself can be unit-tested.
    """

    def __init__(
        self,
        *,
        llm_provider: LlmProvider | None = None,
        orchestrator_factory: OrchestratorFactory = default_orchestrator_factory,
        summarizer: Callable[[Engine, str], Any] = default_summarizer,
        databases: ScenarioDatabases | None = None,
        default_today: dt.date | None = None,
        backend_harness: BackendHarness | None = None,
    ) -> None:
        self.llm_provider = llm_provider or (lambda _scenario: None)
        self.orchestrator_factory = orchestrator_factory
        self.summarizer = summarizer
        self.databases = databases or ScenarioDatabases()
        self.default_today = default_today
        self.backend_harness = backend_harness

    def _today(self, scenario: Scenario) -> dt.date:
        if scenario.today is not None:
            return scenario.today
        if self.default_today is not None:
            return self.default_today
        from sangdam.config import today

        return today()

    def _prepare_db(self, scenario: Scenario, today: dt.date) -> tuple[Engine, Any]:
        if scenario.uses_demo_data:
            return self.databases.fresh(self.databases.demo_template(today), scenario.id)
        template = self.databases.catalogue_template(catalogue_parts(scenario.fixtures))
        engine, path = self.databases.fresh(template, scenario.id)
        try:
            load_into(engine, scenario.fixtures or {}, today=today)
        except BaseException:
            self.databases.discard(engine, path)
            raise
        return engine, path

    def run_once(self, scenario: Scenario) -> RunOutcome:
        """Run one scenario once on a fresh database; never raises for a failing orchestrator."""
        today = self._today(scenario)
        try:
            engine, path = self._prepare_db(scenario, today)
        except Exception as exc:  # noqa: BLE001 - reported as the scenario's failure
            return RunOutcome(False, [f"setup: could not load fixtures: {type(exc).__name__}: {exc}"])
        if self.backend_harness is None:  # the demo set-up: one database, the sql adapter on it
            try:
                return self._converse(scenario, engine, today, engine, None)
            finally:
                self.databases.discard(engine, path)
        try:
            store, store_path = self.databases.fresh(self.databases.catalogue_template(()), f"{scenario.id}-store")
        except Exception as exc:  # noqa: BLE001
            self.databases.discard(engine, path)
            return RunOutcome(False, [f"setup: could not create Sangdam's store: {type(exc).__name__}: {exc}"])
        try:
            backend = self.backend_harness.attach(engine, path, today)
            return self._converse(scenario, engine, today, store, backend)
        except Exception as exc:  # noqa: BLE001
            return RunOutcome(False, [f"setup: {self.backend_harness.name} backend: {type(exc).__name__}: {exc}"])
        finally:
            self.databases.discard(store, store_path)
            self.databases.discard(engine, path)

    def _converse(self, scenario: Scenario, engine: Engine, today: dt.date, store: Engine, backend: Any) -> RunOutcome:
        """``engine``: the operator's records (checked at the end); ``store``: Sangdam's own (conversations)."""
        failures: list[str] = []
        turns: list[TurnReport] = []
        final = scenario.final
        bills_before = dbcheck.bill_totals(engine) if final.bills_total_delta else {}
        unchanged_tables = (
            list(dbcheck.CUSTOMER_DATA_TABLES) if final.db_unchanged is True else list(final.db_unchanged or [])
        )
        snap_before = dbcheck.snapshot(engine, unchanged_tables) if unchanged_tables else {}
        try:
            llm = self.llm_provider(scenario)
            orch = (self.orchestrator_factory(store, today, llm) if backend is None
                    else self.orchestrator_factory(store, today, llm, backend=backend))
            customer_id = scenario.session.customer_id if scenario.session else None
            conversation_id = orch.start_conversation(customer_id=customer_id, channel="eval")
        except Exception as exc:  # noqa: BLE001
            return RunOutcome(False, [f"setup: could not start the conversation: {type(exc).__name__}: {exc}"])

        for index, turn in enumerate(scenario.turns):
            started = time.perf_counter()
            try:
                result = orch.handle(conversation_id, turn.user)
            except Exception as exc:  # noqa: BLE001 - a crash fails this scenario, not the run
                failures.append(
                    f"turn {index + 1} ({turn.user!r}): orchestrator raised {type(exc).__name__}: {exc}{_origin(exc)}"
                )
                turns.append(TurnReport(user=turn.user, reply=""))
                return RunOutcome(False, failures, turns)
            latency_ms = (time.perf_counter() - started) * 1000.0
            turns.append(
                TurnReport(
                    user=turn.user,
                    reply=getattr(result, "reply", "") or "",
                    intents=list(getattr(result, "intents", []) or []),
                    tools=[ToolReport(name=n, status=s, error_code=c) for n, s, c in tool_calls_of(result)],
                    latency_ms=round(latency_ms, 3),
                )
            )
            failures.extend(check_turn(index, turn.user, turn.expect, result))

        failures.extend(self._final_checks(scenario, engine, store, conversation_id, bills_before, snap_before))
        return RunOutcome(not failures, failures, turns)

    def _final_checks(
        self,
        scenario: Scenario,
        engine: Engine,
        store: Engine,
        conversation_id: str,
        bills_before: dict[str, int],
        snap_before: dict[str, list[tuple[Any, ...]]],
    ) -> list[str]:
        final = scenario.final
        failures = dbcheck.check_db_fields(engine, final.db) if final.db else []
        if final.bills_total_delta:
            after = dbcheck.bill_totals(engine)
            for cid, want in final.bills_total_delta.items():
                got = after.get(cid, 0) - bills_before.get(cid, 0)
                if got != want:
                    failures.append(f"final bills_total_delta: {cid}: expected {want:+,} KRW, got {got:+,} KRW")
        if snap_before:
            failures.extend(dbcheck.diff_snapshots(snap_before, dbcheck.snapshot(engine, list(snap_before))))
        for i, rc in enumerate(final.rows):
            got = dbcheck.count_rows(engine, rc.table, rc.where)
            if got != rc.count:
                failures.append(f"final rows[{i}]: {rc.table} where {rc.where}: expected {rc.count} rows, got {got}")
        if final.summary_contains:
            failures.extend(self._summary_checks(store, conversation_id, final.summary_contains))
        return failures

    def _summary_checks(self, engine: Engine, conversation_id: str, items: list[str]) -> list[str]:
        try:
            summary = self.summarizer(engine, conversation_id)
        except Exception as exc:  # noqa: BLE001
            return [f"final summary_contains: summary failed: {type(exc).__name__}: {exc}"]
        if summary is None:
            return ["final summary_contains: summary not available (sangdam.contact_center.summary.summarize)"]
        text = _summary_text(summary)
        return [
            f"final summary_contains: expected {item!r} in summary {text[:200]!r}"
            for item in items
            if not matches(text, item)
        ]

    def run(
        self,
        loaded: list[LoadedScenario],
        repeat: int = 1,
        on_result: Callable[[ScenarioReport], None] | None = None,
    ) -> EvalReport:
        """Run every scenario ``repeat`` times; a scenario passes only if all its runs pass (pass^k)."""
        if repeat < 1:
            raise ValueError("repeat must be at least 1")
        reports: list[ScenarioReport] = []
        for item in loaded:
            outcomes = [self.run_once(item.scenario) for _ in range(repeat)]
            passed_runs = sum(1 for o in outcomes if o.passed)
            shown = next((o for o in outcomes if not o.passed), outcomes[0])
            failures: list[str] = []
            for n, o in enumerate(outcomes, start=1):
                prefix = f"run {n}/{repeat}: " if repeat > 1 else ""
                failures.extend(prefix + f for f in o.failures)
            report = ScenarioReport(
                id=item.scenario.id,
                passed=passed_runs == repeat,
                failures=failures,
                turns=shown.turns,
                file=str(item.file),
                runs=repeat,
                runs_passed=passed_runs,
            )
            reports.append(report)
            if on_result:
                on_result(report)
        return build_report(reports, repeat)

    def close(self) -> None:
        """Remove the temporary databases (and stop what the backend harness started)."""
        if self.backend_harness is not None:
            self.backend_harness.close()
        self.databases.close()
