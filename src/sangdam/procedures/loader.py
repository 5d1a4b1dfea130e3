"""Procedure files: the packaged ones (``resources/procedures/*.yaml``) and the operator's
(``$SANGDAM_HOME/procedures/*.yaml``), validated and compiled into programs.

Every problem is a :class:`ProcedureError` naming the file, the step (``steps[2].loop.steps[0]``) and the reason,
in English. Files are re-read when one of them changes (their names, sizes and modification times are the key).
"""

from __future__ import annotations

import logging
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sangdam.procedures.models import (
    END,
    FIELD,
    PATH,
    Branch,
    Instr,
    Loop,
    ProcedureSpec,
    Program,
    StepSpec,
    Template,
)

log = logging.getLogger(__name__)
SAY_FILTERS = ("number", "won", "gb", "date", "last4", "period", "speed", "optional")
# ``{value|t:billing.status}``: the template ``billing.status.<value>`` of templates/ko.yaml (a label by value)
TEMPLATE_FILTER = "t:"


class ProcedureError(ValueError):
    """A procedure (or operator intent) file that cannot be used: ``file: where: reason``."""

    def __init__(self, file: str | Path, where: str, reason: str) -> None:
        self.file, self.where, self.reason = str(file), where, reason
        super().__init__(f"{file}: {where}: {reason}" if where else f"{file}: {reason}")


def packaged_dir() -> Path:
    return Path(str(resources.files("sangdam") / "resources" / "procedures"))


def operator_dir() -> Path:
    from sangdam.config import get_settings

    return get_settings().resolved_home / "procedures"


def yaml_files(*folders: Path) -> list[Path]:
    out: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            out.extend(sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()))
    return out


def signature(files: list[Path]) -> tuple[Any, ...]:
    out = []
    for p in files:
        try:
            st = p.stat()
            out.append((str(p), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(p), None, None))
    return tuple(out)


def read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ProcedureError(path, at, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except OSError as exc:
        raise ProcedureError(path, "", f"cannot be read: {exc.strerror or exc}") from None


def pydantic_reason(err: ValidationError, prefix: str = "") -> tuple[str, str]:
    """(where, reason) of the first error of ``err``."""
    first = err.errors()[0]
    loc = [str(x) for x in first.get("loc", ()) if x not in ("function-after", "function-before")]
    where = prefix
    for part in loc:
        where += f"[{part}]" if part.isdigit() else (f".{part}" if where else part)
    msg = first.get("msg", "invalid")
    msg = msg.removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        msg = f"unknown key {loc[-1]!r}" if loc else "unknown key"
    return where, msg


# --------------------------------------------------------------------------------------------- compiling
def compile_procedure(data: Any, file: Path | str, *, extractors: set[str] | None = None,
                      functions: set[str] | None = None) -> Program:
    """Validate one procedure document and compile it (``ProcedureError`` naming ``file`` and the step)."""
    if not isinstance(data, dict):
        raise ProcedureError(file, "", "a procedure file is a mapping with 'procedure', 'description_ko' and 'steps'")
    data = _on_keys(data)
    try:
        spec = ProcedureSpec.model_validate(data)
    except ValidationError as err:
        raise ProcedureError(file, *pydantic_reason(err)) from None
    instrs: list[Instr] = []
    labels: dict[str, int] = {}
    gotos: list[tuple[str, str]] = []  # (label, where)
    tools: list[str] = []
    used_extractors: list[str] = []
    used_functions: list[str] = []
    starts: list[str] = []
    loops = 0

    def emit(steps: list[dict[str, Any]], where: str) -> None:
        nonlocal loops
        for i, raw in enumerate(steps):
            at = f"{where}[{i}]"
            if not isinstance(raw, dict):
                raise ProcedureError(file, at, "a step is a mapping with one of ask, call, branch, propose, say, "
                                               "loop, handoff, start, goto, end")
            try:
                step = StepSpec.model_validate(raw)
            except ValidationError as err:
                raise ProcedureError(file, *pydantic_reason(err, at)) from None
            if step.id is not None:
                if step.id in labels:
                    raise ProcedureError(file, f"{at}.id", f"step id {step.id!r} is used twice")
                labels[step.id] = len(instrs)
            kind = step.kind
            if kind == "loop":
                assert step.loop is not None
                loops += 1
                loop_id = f"l{loops}"
                start = len(instrs)
                instrs.append(Instr(op="loop_start", step=step, where=at, loop=step.loop, loop_id=loop_id))
                if step.loop.until is not None and step.loop.until.on is None:
                    raise ProcedureError(file, f"{at}.loop.until.on", "the loop's check needs 'on', a variable path")
                if isinstance(step.loop.over, str) and not PATH.match(step.loop.over):
                    raise ProcedureError(file, f"{at}.loop.over", f"{step.loop.over!r} is not a variable path")
                emit(step.loop.steps, f"{at}.loop.steps")
                end = len(instrs)
                instrs.append(Instr(op="loop_end", step=step, where=at, loop=step.loop, loop_id=loop_id,
                                    body_start=start + 1))
                instrs[start].exit_pc = instrs[end].exit_pc = end + 1
                if step.loop.else_ is not None:
                    gotos.append((step.loop.else_, f"{at}.loop.else"))
                continue
            instrs.append(Instr(op=kind, step=step, where=at))
            _check_step(step, kind, at, spec, file, gotos, tools, used_extractors, starts, extractors)
            if kind == "compute":
                if functions is not None and step.compute not in functions:
                    raise ProcedureError(file, f"{at}.compute", f"unknown function {step.compute!r} (known: "
                                                                f"{', '.join(sorted(functions)) or 'none'})")
                used_functions.append(str(step.compute))
                _check_templates(step.args, f"{at}.args", spec, file, say=False)
                gotos.extend((label, f"{at}.on_error.{code}") for code, label in step.on_error.items())

    emit(spec.steps, "steps")
    if spec.identity_when is not None and functions is not None and spec.identity_when not in functions:
        raise ProcedureError(file, "identity_when", f"unknown function {spec.identity_when!r} (known: "
                                                    f"{', '.join(sorted(functions)) or 'none'})")
    if spec.identity_when is not None:
        used_functions.append(spec.identity_when)
    for label, at in gotos:
        if label != END and label not in labels:
            known = ", ".join(sorted(labels)) or "none"
            raise ProcedureError(file, at, f"goes to {label!r}, which is no step id of this procedure "
                                           f"(ids: {known}; 'end' ends it)")
    for instr in instrs:
        if instr.op == "loop_end" and instr.loop is not None and instr.loop.else_ is not None:
            instr.else_pc = _pc(instr.loop.else_, labels, len(instrs))
    return Program(name=spec.procedure, file=str(file), description_ko=spec.description_ko, identity=spec.identity,
                   identity_when=spec.identity_when,
                   labels=spec.labels, instrs=instrs, label_pc=labels, tools=list(dict.fromkeys(tools)),
                   extractors=list(dict.fromkeys(used_extractors)), starts=list(dict.fromkeys(starts)),
                   serves=list(spec.serves), functions=list(dict.fromkeys(used_functions)))


def _on_keys(node: Any) -> Any:
    """YAML 1.1 reads a bare ``on:`` key as the boolean true: give it back its name."""
    if isinstance(node, dict):
        return {("on" if k is True else k): _on_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_on_keys(v) for v in node]
    return node


def _pc(label: str, labels: dict[str, int], size: int) -> int:
    return size if label == END else labels[label]


def _check_step(step: StepSpec, kind: str, at: str, spec: ProcedureSpec, file: Path | str,
                gotos: list[tuple[str, str]], tools: list[str], used_extractors: list[str], starts: list[str],
                extractors: set[str] | None) -> None:
    if kind in ("call", "propose"):
        tools.append(getattr(step, kind))
        _check_templates(step.args, f"{at}.args", spec, file, say=False)
        gotos.extend((label, f"{at}.on_error.{code}") for code, label in step.on_error.items())
        if step.summary_ko:
            _check_templates(step.summary_ko, f"{at}.summary_ko", spec, file, say=True)
        if step.done_ko:
            _check_templates(step.done_ko, f"{at}.done_ko", spec, file, say=True)
    elif kind == "ask":
        name = step.extractor or "text"
        if step.prefer_status is not None and name != "line":
            raise ProcedureError(file, f"{at}.prefer_status", "prefer_status applies to the 'line' extractor only")
        if extractors is not None and name not in extractors:
            raise ProcedureError(file, f"{at}.extractor",
                                 f"unknown extractor {name!r} (known: {', '.join(sorted(extractors))})")
        used_extractors.append(name)
        _check_templates(step.question_ko or "", f"{at}.question_ko", spec, file, say=True)
    elif kind == "say":
        _check_templates(step.say or "", f"{at}.say", spec, file, say=True)
    elif kind == "branch":
        branch: Branch = step.branch  # type: ignore[assignment]
        for j, case in enumerate(branch.cases):
            gotos.append((case.goto, f"{at}.branch.cases[{j}].goto"))
        if branch.else_ is not None:
            gotos.append((branch.else_, f"{at}.branch.else"))
    elif kind == "goto":
        gotos.append((step.goto or "", f"{at}.goto"))
    elif kind == "handoff":
        tools.append("transfer_to_human")
        if isinstance(step.handoff, str):
            _check_templates(step.handoff, f"{at}.handoff", spec, file, say=True)
    elif kind == "start":
        starts.append(step.start or "")


def _check_templates(value: Any, at: str, spec: ProcedureSpec, file: Path | str, *, say: bool) -> None:
    """Fields are variable paths with known filters; Korean text states no number of its own (the verifier lets
    a reply state only numbers from tool results)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_templates(v, f"{at}.{k}", spec, file, say=say)
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            _check_templates(v, f"{at}[{i}]", spec, file, say=say)
        return
    if isinstance(value, Template):  # the template's text is the package's; its values are fields
        _check_templates(value.args, f"{at}.args", spec, file, say=False)
        return
    if not isinstance(value, str):
        return
    for field in FIELD.findall(value):
        path, _, flt = field.partition("|")
        if not PATH.match(path.strip()):
            raise ProcedureError(file, at, f"{{{field}}} is not a variable path ('{{membership.points}}')")
        flt = flt.strip()
        if flt.startswith(TEMPLATE_FILTER):
            from sangdam.orchestrator.format import templates

            node: Any = templates()
            for part in flt.removeprefix(TEMPLATE_FILTER).split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                raise ProcedureError(file, at, f"{flt!r} in {{{field}}} names no group of templates/ko.yaml")
            continue
        if flt and flt not in SAY_FILTERS and flt not in spec.labels:
            raise ProcedureError(file, at, f"unknown filter {flt!r} in {{{field}}} (filters: "
                                           f"{', '.join([*SAY_FILTERS, *spec.labels])})")
    if say:
        literal = FIELD.sub(" ", value)
        if any(ch.isdigit() for ch in literal):
            raise ProcedureError(file, at, "Korean text may not state a number of its own: every number in a reply "
                                           "must come from a tool result (write it as a {field})")


# --------------------------------------------------------------------------------------------- loading
class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: Any = None
        self.value: dict[str, Program] = {}


_CACHE = _Cache()
_GOOD: dict[str, dict[str, Program]] = {}  # home -> the last set that loaded without error


def procedure_files() -> list[Path]:
    return yaml_files(packaged_dir(), operator_dir())


def load_procedures(*, strict: bool = True) -> dict[str, Program]:
    """Every procedure by name (packaged first; an operator file may not reuse a packaged name). A problem is a
    ``ProcedureError``; with ``strict=False`` (conversations in progress) it is logged and the last good set of
    this home is used instead."""
    try:
        return _load()
    except ProcedureError as err:
        if strict:
            raise
        from sangdam.config import get_settings

        log.error("procedures: %s (the last good set stays in use)", err)
        return _GOOD.get(str(get_settings().resolved_home), {})


def _load() -> dict[str, Program]:
    from sangdam.config import get_settings
    from sangdam.procedures.extractors import extractor_names
    from sangdam.procedures.functions import function_names

    files = procedure_files()
    key = (signature(files), tuple(sorted(extractor_names())), tuple(sorted(function_names())))
    with _CACHE.lock:
        if _CACHE.key == key:
            if isinstance(_CACHE.value, ProcedureError):
                raise _CACHE.value
            return _CACHE.value
        try:
            out = _read_all(files)
        except ProcedureError as err:
            _CACHE.key, _CACHE.value = key, err  # type: ignore[assignment]
            raise
        _CACHE.key, _CACHE.value = key, out
        _GOOD[str(get_settings().resolved_home)] = out
        return out


def _read_all(files: list[Path]) -> dict[str, Program]:
    from sangdam.procedures.extractors import extractor_names
    from sangdam.procedures.functions import function_names

    out: dict[str, Program] = {}
    where: dict[str, Path] = {}
    packaged = packaged_dir()
    for path in files:
        program = compile_procedure(read_yaml(path), path, extractors=set(extractor_names()),
                                    functions=set(function_names()))
        if program.serves:
            from sangdam.orchestrator.intents import INTENTS

            if path.parent != packaged:
                raise ProcedureError(path, "serves", "only packaged procedures may serve built-in intents "
                                                     "(declare your own intent in $SANGDAM_HOME/intents)")
            bad = [i for i in program.serves if i not in INTENTS]
            if bad:
                raise ProcedureError(path, "serves", f"{bad} are not built-in intents")
        if program.name in out:
            raise ProcedureError(path, "procedure", f"{program.name!r} is already defined in {where[program.name]}")
        out[program.name] = program
        where[program.name] = path
    return out


def check_tools(program: Program) -> None:
    """Every tool the procedure names exists (built-in or imported): ``ProcedureError`` otherwise."""
    from sangdam.tools.base import ToolError
    from sangdam.tools.registry import get_tool

    for instr in program.instrs:
        step = instr.step
        name = None if step is None or instr.op not in ("call", "propose") else getattr(step, instr.op)
        if name is None:
            continue
        try:
            tool = get_tool(name)
        except ToolError as err:
            if err.code == "unknown_tool":
                raise ProcedureError(program.file, f"{instr.where}.{instr.op}",
                                     f"no tool named {name!r} (built-in or imported: sangdam tools list)") from None
            continue  # imported, but its source is unavailable now: a call says so at run time
        if instr.op == "propose" and tool.risk == "read":
            raise ProcedureError(program.file, f"{instr.where}.propose",
                                 f"{name!r} is a read tool: use 'call' (only writes are proposed)")
        if instr.op == "call" and tool.risk != "read":
            raise ProcedureError(program.file, f"{instr.where}.call",
                                 f"{name!r} is a write tool: use 'propose' (a write runs only after the customer's yes)")


def reset_procedures() -> None:
    """Forget the loaded files (tests)."""
    with _CACHE.lock:
        _CACHE.key, _CACHE.value = None, {}
        _GOOD.clear()


__all__ = ["Loop", "ProcedureError", "Program", "compile_procedure", "check_tools", "load_procedures"]
