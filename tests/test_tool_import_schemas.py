"""JSON Schema → pydantic for imported tools: the constructs real OpenAPI documents and MCP servers use, names as the
outside API spells them, and clear errors for what is not supported."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from sangdam.tools.imported.definition import ImportedArgs, allowed_only
from sangdam.tools.imported.schemas import SchemaError, model_from_schema, resolve_refs


def args_model(properties: dict, required: list[str] | None = None):  # noqa: ANN201
    schema = {"type": "object", "properties": properties, "required": required or []}
    return model_from_schema("Args", schema, base=ImportedArgs)


def test_names_stay_as_the_api_spells_them_through_a_round_trip():
    model = args_model({"visit-date": {"type": "string", "format": "date"}, "json": {"type": "string"},
                        "model_id": {"type": "integer"}, "X-Request-Id": {"type": "string"}},
                       ["visit-date", "json"])
    parsed = model.model_validate({"visit-date": "2026-12-03", "json": "a", "model_id": 7, "X-Request-Id": "r1"})
    dumped = parsed.model_dump(mode="json", exclude_none=True)
    assert dumped == {"visit-date": "2026-12-03", "json": "a", "model_id": 7, "X-Request-Id": "r1"}
    assert model.model_validate(dumped) == parsed  # a proposal's args validate again as they were
    assert set(model.model_json_schema()["properties"]) == {"visit-date", "json", "model_id", "X-Request-Id"}
    with pytest.raises(ValidationError):
        model.model_validate({"visit_date": "2026-12-03", "json": "a"})  # the Python name is not an argument


def test_limits_of_both_openapi_versions_are_enforced():
    model = args_model({
        "gb": {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "maximum": 5},  # 3.0 booleans
        "ratio": {"type": "number", "exclusiveMaximum": 1},  # 3.1 numbers
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}, "maxItems": 2},
        "note": {"type": "string", "nullable": True},
        "code": {"type": ["string", "null"], "pattern": "^[A-Z]{2}$"},
    })
    assert model.model_validate({"gb": 5, "ratio": 0.5, "tags": ["a"], "note": None, "code": "KR"}).gb == 5
    for bad in ({"gb": 0}, {"gb": 6}, {"ratio": 1}, {"tags": ["a", "b", "c"]}, {"tags": ["long"]}, {"code": "kr"}):
        with pytest.raises(ValidationError):
            model.model_validate(bad)


def test_all_of_is_merged_and_one_of_is_a_union():
    model = args_model({
        "address": {"allOf": [{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                              {"properties": {"zip": {"type": "string"}}}]},
        "when": {"oneOf": [{"type": "string", "format": "date"}, {"type": "integer"}]},
    })
    parsed = model.model_validate({"address": {"city": "서울", "zip": "06236"}, "when": "2026-12-03"})
    assert parsed.model_dump()["address"] == {"city": "서울", "zip": "06236"} and parsed.when == dt.date(2026, 12, 3)
    assert model.model_validate({"when": 3}).when == 3
    with pytest.raises(ValidationError):
        model.model_validate({"address": {"zip": "1"}})  # city is required by the first part
    with pytest.raises(ValidationError):
        model.model_validate({"address": {"city": "서울", "floor": 3}})  # nested objects forbid unknown fields


def test_references_resolve_and_recursion_is_refused_for_arguments_but_not_results():
    root = {"components": {"schemas": {"Node": {"type": "object", "properties": {
        "name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}}}
    node = {"$ref": "#/components/schemas/Node"}
    with pytest.raises(SchemaError) as exc:
        resolve_refs(node, root, ("body",))
    assert "recursive schema" in exc.value.reason and exc.value.path[0] == "body"
    resolved = resolve_refs(node, root, (), cycles="any")
    assert resolved["properties"]["children"]["items"] == {}  # any value where it recurs
    with pytest.raises(SchemaError) as exc:
        resolve_refs({"$ref": "#/components/schemas/Missing"}, root, ("x",))
    assert "points at nothing" in exc.value.reason


def test_allow_list_keeps_only_named_fields_at_any_depth():
    answer = {"a": 1, "secret": 2, "visits": [{"id": "V1", "phone": "010"}, {"id": "V2", "phone": "011"}],
              "owner": {"name": "김", "rrn": "850314-1"}, "flat": "x"}
    kept = allowed_only(answer, ["a", "visits.id", "owner.name", "flat.sub"])
    assert kept == {"a": 1, "visits": [{"id": "V1"}, {"id": "V2"}], "owner": {"name": "김"}}  # flat had no .sub
