"""Find and validate scenario files; every error names the file, the scenario id and the field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sangdam.evaluation.dbcheck import final_problems
from sangdam.evaluation.fixtures_bridge import fixture_problems
from sangdam.evaluation.scenario import Scenario

SCENARIO_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ScenarioIssue:
    """One problem in one scenario file."""

    file: str
    scenario_id: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.scenario_id is not None:
            where += f": scenario {self.scenario_id!r}"
        if self.field:
            where += f": {self.field}"
        return f"{where}: {self.message}"


class ScenarioLoadError(Exception):
    """One or more scenario files are invalid (the runner exits with code 2)."""

    def __init__(self, issues: Sequence[ScenarioIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and the file it came from."""

    scenario: Scenario
    file: Path


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Scenario files under ``paths`` (files as given; directories searched recursively), sorted, no duplicates."""
    found: list[Path] = []
    missing: list[ScenarioIssue] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in SCENARIO_SUFFIXES and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            missing.append(ScenarioIssue(str(path), None, None, "no such file or directory"))
    if missing:
        raise ScenarioLoadError(missing)
    seen: set[Path] = set()
    unique = []
    for p in found:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


def _field_path(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _issues_from_validation(file: str, sid: str | None, exc: ValidationError, prefix: str = "") -> list[ScenarioIssue]:
    issues = []
    for err in exc.errors():
        loc = _field_path(err["loc"])
        field = f"{prefix}.{loc}" if prefix and loc else prefix or loc or None
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not part of the scenario format)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        issues.append(ScenarioIssue(file, sid, field, msg))
    return issues


def parse_file(path: Path) -> tuple[list[Scenario], list[ScenarioIssue]]:
    """Scenarios of one file (a mapping or a list of mappings) and the problems found in it."""
    name = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return [], [ScenarioIssue(name, None, None, f"invalid YAML: {exc}")]
    except (OSError, UnicodeDecodeError) as exc:
        return [], [ScenarioIssue(name, None, None, f"cannot read: {exc}")]
    if data is None:
        return [], [ScenarioIssue(name, None, None, "empty file (expected a scenario or a list of scenarios)")]
    items = data if isinstance(data, list) else [data]
    scenarios: list[Scenario] = []
    issues: list[ScenarioIssue] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            issues.append(ScenarioIssue(name, f"#{index + 1}", None, "a scenario must be a mapping"))
            continue
        sid = item.get("id") if isinstance(item.get("id"), str) else f"#{index + 1}"
        found: list[ScenarioIssue] = []
        scenario: Scenario | None = None
        try:
            scenario = Scenario.model_validate(item)
        except ValidationError as exc:
            found.extend(_issues_from_validation(name, sid, exc))
        raw_fixtures = item.get("fixtures")
        if isinstance(raw_fixtures, dict):  # checked even when other keys are wrong: report everything at once
            found.extend(
                ScenarioIssue(name, sid, f"fixtures.{path}" if path else "fixtures", msg)
                for path, msg in fixture_problems(raw_fixtures)
            )
        if scenario is not None:
            found.extend(ScenarioIssue(name, sid, path, msg) for path, msg in final_problems(scenario.final))
        if found or scenario is None:
            issues.extend(found)
            continue
        session_id = scenario.session.customer_id if scenario.session else None
        if session_id and scenario.fixtures and not scenario.uses_demo_data:
            known = {c.get("id") for c in scenario.fixtures.get("customers", []) if isinstance(c, dict)}
            if session_id not in known:
                issues.append(
                    ScenarioIssue(name, sid, "session.customer_id", f"{session_id!r} is not a customer of the fixtures")
                )
                continue
        scenarios.append(scenario)
    return scenarios, issues


def load_scenarios(paths: Iterable[str | Path]) -> list[LoadedScenario]:
    """Every scenario under ``paths``, validated; raise ``ScenarioLoadError`` listing every problem found.

    Scenario ids must be unique across all the files of one run (reports and pass^k are keyed by id).
    """
    paths = list(paths)
    files = discover(paths)
    loaded: list[LoadedScenario] = []
    issues: list[ScenarioIssue] = []
    first_seen: dict[str, Path] = {}
    for path in files:
        scenarios, file_issues = parse_file(path)
        issues.extend(file_issues)
        for sc in scenarios:
            if sc.id in first_seen:
                issues.append(
                    ScenarioIssue(str(path), sc.id, "id", f"duplicate scenario id (first defined in {first_seen[sc.id]})")
                )
                continue
            first_seen[sc.id] = path
            loaded.append(LoadedScenario(sc, path))
    if issues:
        raise ScenarioLoadError(issues)
    if not loaded:
        raise ScenarioLoadError([ScenarioIssue(", ".join(str(p) for p in paths), None, None, "no scenarios found")])
    return loaded
