"""The evaluation report: the JSON contract of ``sangdam eval --json``, pass^k, and the rich rendering.

Contract fields (issue 7): ``total``, ``passed``, ``pass_rate`` and per scenario ``id``, ``passed``, ``failures``,
``turns`` (``user``, ``reply``, ``intents``, ``tools``, ``latency_ms``). Fields beside them (``repeat``,
``pass_hat_k``, ``pass_hat``, ``file``, ``runs``, ``runs_passed``) are additions and never change the contract's.
"""

from __future__ import annotations

from math import comb
from typing import Any

from pydantic import BaseModel, Field


class ToolReport(BaseModel):
    """One tool call of a turn as the report shows it."""

    name: str
    status: str
    error_code: str | None = None


class TurnReport(BaseModel):
    """One turn as it happened (from the first failing run, else the first run)."""

    user: str
    reply: str
    intents: list[str] = Field(default_factory=list)
    tools: list[ToolReport] = Field(default_factory=list)
    latency_ms: float = 0.0


class ScenarioReport(BaseModel):
    """The outcome of one scenario over all its runs: passed only when every run passed (pass^k)."""

    id: str
    passed: bool
    failures: list[str] = Field(default_factory=list)
    turns: list[TurnReport] = Field(default_factory=list)
    file: str = ""
    runs: int = 1
    runs_passed: int = 0


class EvalReport(BaseModel):
    """The whole run."""

    total: int
    passed: int
    pass_rate: float
    scenarios: list[ScenarioReport]
    repeat: int = 1
    pass_hat_k: float = Field(description="pass^k for k = repeat: share of scenarios whose every run passed.")
    pass_hat: dict[str, float] = Field(
        default_factory=dict, description="pass^k for k = 1..repeat (τ²-bench's unbiased estimator)."
    )

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON document printed by ``sangdam eval --json``."""
        return self.model_dump(mode="json")


def pass_hat(successes: list[int], n: int, k: int) -> float:
    """τ²-bench's pass^k: mean over tasks of C(c, k) / C(n, k), with ``c`` successes out of ``n`` trials."""
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    if not successes:
        return 0.0
    return sum(comb(c, k) / comb(n, k) for c in successes) / len(successes)


def build_report(scenarios: list[ScenarioReport], repeat: int) -> EvalReport:
    """Aggregate per-scenario outcomes into the report (``passed`` counts scenarios with every run passing)."""
    total = len(scenarios)
    passed = sum(1 for s in scenarios if s.passed)
    successes = [s.runs_passed for s in scenarios]
    curve = {str(k): round(pass_hat(successes, repeat, k), 6) for k in range(1, repeat + 1)}
    return EvalReport(
        total=total,
        passed=passed,
        pass_rate=round(passed / total, 6) if total else 0.0,
        scenarios=scenarios,
        repeat=repeat,
        pass_hat_k=curve[str(repeat)] if total else 0.0,
        pass_hat=curve if total else {},
    )


def render(report: EvalReport, console: Any) -> None:
    """Print a rich table of the scenarios, then every failure (for people; ``--json`` is for programs)."""
    from rich.table import Table

    table = Table(title="Scenario evaluation", show_lines=False)
    table.add_column("scenario")
    table.add_column("result")
    table.add_column("turns", justify="right")
    table.add_column("p50 ms", justify="right")
    if report.repeat > 1:
        table.add_column("runs passed", justify="right")
    for s in report.scenarios:
        lat = sorted(t.latency_ms for t in s.turns)
        p50 = f"{lat[len(lat) // 2]:.0f}" if lat else "-"
        row = [s.id, "[green]pass[/green]" if s.passed else "[red]FAIL[/red]", str(len(s.turns)), p50]
        if report.repeat > 1:
            row.append(f"{s.runs_passed}/{s.runs}")
        table.add_row(*row)
    console.print(table)
    for s in report.scenarios:
        if s.failures:
            console.print(f"[bold red]{s.id}[/bold red] [dim]{s.file}[/dim]")
            for f in s.failures:
                console.print(f"  - {f}", markup=False, highlight=False, soft_wrap=True)
    summary = f"{report.passed}/{report.total} passed (pass rate {report.pass_rate:.1%})"
    if report.repeat > 1:
        curve = ", ".join(f"pass^{k}={v:.3f}" for k, v in report.pass_hat.items())
        summary += f"; repeat={report.repeat}: {curve}"
    console.print(summary)
