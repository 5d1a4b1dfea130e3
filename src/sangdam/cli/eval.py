"""``sangdam eval``: run Korean conversation scenarios through the orchestrator and grade them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def eval_command(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files or directories (searched for *.yaml, *.yml).")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the JSON report (the public contract).")] = False,
    llm: Annotated[
        str, typer.Option("--llm", help="'scripted', 'embedded' (default) or a YAML role config file.")
    ] = "embedded",
    repeat: Annotated[int, typer.Option("--repeat", min=1, help="Runs per scenario; reports pass^k.")] = 1,
    backend: Annotated[
        str, typer.Option("--backend", help="'sql' (default: the demo tables) or 'rest' (the rest adapter against a "
                          "reference BSS started for the run, pointed at each scenario's database).")
    ] = "sql",
) -> None:
    """Run scenarios and grade them by final database state, tool calls and key reply facts.

    Exit code 0 whether or not scenarios pass (the report says which); 2 when a scenario file is invalid;
    1 when the evaluation cannot start (e.g. the LLM backend is unavailable).
    """
    from sangdam.evaluation.llm_choice import LlmChoiceError, make_llm_provider
    from sangdam.evaluation.loader import ScenarioLoadError, load_scenarios
    from sangdam.evaluation.report import render
    from sangdam.evaluation.runner import ScenarioRunner

    try:
        loaded = load_scenarios(paths)
    except ScenarioLoadError as exc:
        typer.echo(f"invalid scenario file ({len(exc.issues)} problem(s)):", err=True)
        for issue in exc.issues:
            typer.echo(f"  {issue}", err=True)
        raise typer.Exit(2) from None

    try:
        from sangdam.orchestrator import Orchestrator  # noqa: F401 - fail early, not once per scenario
    except ImportError as exc:
        err_console.print(f"the orchestrator is not available: {exc}", markup=False)
        raise typer.Exit(1) from None

    try:
        provider = make_llm_provider(llm)
    except LlmChoiceError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    except Exception as exc:  # noqa: BLE001 - an unusable backend is an operator problem, said plainly
        err_console.print(f"cannot set up the LLM backend {llm!r}: {type(exc).__name__}: {exc}", markup=False)
        raise typer.Exit(1) from None

    harness = None
    if backend == "rest":
        from sangdam.evaluation.rest_harness import RestHarness

        try:
            harness = RestHarness.start()
        except Exception as exc:  # noqa: BLE001 - the BSS did not come up: an operator problem, said plainly
            err_console.print(f"cannot start the reference BSS for --backend rest: {type(exc).__name__}: {exc}",
                              markup=False)
            raise typer.Exit(1) from None
    elif backend != "sql":
        err_console.print(f"unknown --backend {backend!r}; use 'sql' or 'rest'", markup=False)
        raise typer.Exit(2)
    runner = ScenarioRunner(llm_provider=provider, backend_harness=harness)
    done = 0

    def progress(report) -> None:  # noqa: ANN001
        nonlocal done
        done += 1
        if not json_output:
            mark = "[green]✓[/green]" if report.passed else "[red]✗[/red]"
            err_console.print(f"{mark} [{done}/{len(loaded)}] {report.id}", highlight=False)

    try:
        report = runner.run(loaded, repeat=repeat, on_result=progress)
    finally:
        runner.close()
    if json_output:
        typer.echo(json.dumps(report.to_json_dict(), ensure_ascii=False))
    else:
        render(report, console)


def register(parent: typer.Typer) -> None:
    """Attach the ``eval`` command to the main app."""
    parent.command("eval")(eval_command)
