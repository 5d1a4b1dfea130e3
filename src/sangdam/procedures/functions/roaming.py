"""Roaming: the computation behind the procedures roaming_enable, roaming_disable, roaming_info and roaming_status
(resources/procedures/). Reading the request (a status question? which country? which pass?), remembering the
passes just listed ("두 번째 걸로" next points at them), finding a pass's name; the Korean text, the questions and
the proposal are the procedures' own.
"""

from __future__ import annotations

import re
from typing import Any

from sangdam.orchestrator import dialogue
from sangdam.procedures.extractors import customer_lines, line_value, register_extractor
from sangdam.procedures.functions import register_function

_ENABLE_VERB = re.compile(r"(켜\s*주|켜줘|켜\s*줘|신청|가입|활성화\s*해|해\s*주세요|해줘)")
_DISABLE_VERB = re.compile(r"(꺼\s*주|꺼줘|끄|끌|해제|중지|비활성|off)", re.I)
_STATUS = re.compile(r"(켜져|꺼져|켜\s*(?:둔|놓은|놨|뒀)|꺼\s*(?:둔|놓은|놨|뒀)|되어\s*있|돼\s*있|상태|사용\s*중|이용\s*중|적용)")
# a status question over all the customer's lines: "로밍 켜 둔 회선 있어요?", "어느 회선 로밍 켜져 있어요?"
_ACROSS = re.compile(r"((?:회선|번호)\s*(?:이|들|중|가)?\s*(?:있|없|중)|어느\s*(?:회선|번호|폰)|어떤\s*(?:회선|번호)|모든\s*회선|회선\s*(?:다|전부|모두)|전부|다들)")


@register_function("roaming_request")
def roaming_request(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    """What a roaming request says: ``status`` — a question about the roaming status ("제 폰 지금 로밍 켜져
    있어요?", "로밍 상태 보여줘") that names no country and, for ``change`` enable or disable, no such verb (it is
    answered read-only, before anything is proposed) — and ``country``, the ISO code of a country it names."""
    text = str(args.get("text") or "")
    country = dialogue.find_country(text)
    verb = {"enable": _ENABLE_VERB, "disable": _DISABLE_VERB}.get(str(args.get("change") or ""))
    status = bool(_STATUS.search(text)) and country is None and not (verb is not None and verb.search(text))
    return {"status": status, "country": country}


@register_function("roaming_named_pass")
def roaming_named_pass(ctx: Any, args: dict[str, Any]) -> str | None:
    """The id of the pass the request names: ``given`` (a pass the step brings: "4444도 똑같이 해 주세요"), one
    of ``passes`` by name ("아시아 5일로 켜 주세요"), or one of the passes listed last by its position ("두 번째
    걸로", "제일 싼 걸로" right after a listing). None when it names none."""
    if args.get("given"):
        return str(args["given"])
    text = str(args.get("text") or "")
    passes = [p for p in args.get("passes") or [] if isinstance(p, dict) and p.get("name")]
    named = dialogue.match_by_name(text, passes)
    if named:
        return str(named[0]["id"])
    listed = list(ctx.state.last_passes)
    index = dialogue.listed_position(text, len(listed))  # passes are listed cheapest first
    return listed[index] if index is not None else None


@register_function("roaming_listed")
def roaming_listed(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
    """A ``list_roaming_passes`` result about to be shown: the passes are remembered (what "두 번째 걸로" next
    points at, ``state.last_passes``, also read by the ellipsis and correction code); returns the destination's
    name for the header (the tool's, else the code's Korean name) and how many passes there are."""
    from sangdam.tools.messages import country_name_ko

    found = args.get("list") if isinstance(args.get("list"), dict) else {}
    passes = [p for p in found.get("passes") or [] if isinstance(p, dict)]
    if passes:
        ctx.state.last_passes = [str(p["id"]) for p in passes]
    code = found.get("country")
    return {"country_name": found.get("country_name") or (country_name_ko(str(code)) if code else None),
            "count": len(passes)}


@register_function("roaming_pass_name")
def roaming_pass_name(ctx: Any, args: dict[str, Any]) -> str | None:
    """The name of pass ``pass_id`` among ``passes``, or None."""
    wanted = args.get("pass_id")
    return next((str(p["name"]) for p in args.get("passes") or [] if isinstance(p, dict) and p.get("id") == wanted),
                None)


@register_function("roaming_request_line", tools=("list_lines",))
def roaming_request_line(ctx: Any, args: dict[str, Any]) -> dict[str, Any] | None:
    """The line a request is about when that needs no question: the one the step brings (``line_id``), the
    customer's only line, or the one the request names by its last digits; None otherwise (nothing is asked)."""
    lines = customer_lines(ctx)
    given = [ln for ln in lines if args.get("line_id") and ln["id"] == args["line_id"]]
    if given:
        return {"id": given[0]["id"]}
    if len(lines) == 1:
        return {"id": lines[0]["id"]}
    named = dialogue.match_line(str(args.get("text") or ""), lines)
    return {"id": named["id"]} if named is not None else None


@register_extractor("country", from_request=True)
def country(ctx: Any, text: str) -> dict[str, str] | None:
    """A destination named in the message ("일본이요", "베트남 가요"): its ISO ``code``, and the words ``said``
    (a pass may be named with it: "베트남 가요. 아시아 10일 패스로 해주세요"). None when it names no country."""
    code = dialogue.find_country(text)
    return {"code": code, "said": text} if code else None


@register_function("roaming_lines_status", tools=("list_lines", "get_line", "list_roaming_passes"))
def roaming_lines_status(ctx: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Every line's roaming status, when the status question asks across the customer's lines ("로밍 켜 둔 회선
    있어요?", "어느 회선 로밍 켜져 있어요?"), names none of them, and there are several; else [] (the question is
    about one line: asked which, as before). Each item: the line's ``last4``, ``state`` (``on_pass``, ``on``,
    ``off``) and its pass ``name`` ("")."""
    text = str(args.get("text") or "")
    lines = customer_lines(ctx)
    if len(lines) < 2 or not _ACROSS.search(text) or dialogue.match_line(text, lines) is not None:
        return []
    passes = {p["id"]: p["name"] for p in ctx.call("list_roaming_passes").model_dump(mode="json")["passes"]}
    out = []
    for line in lines:
        detail = ctx.call("get_line", line_id=line["id"]).model_dump(mode="json")
        name = passes.get(detail.get("roaming_pass_id") or "", "")
        state = ("on_pass" if name else "on") if detail["roaming_enabled"] else "off"
        out.append({"last4": line_value(line)["last4"], "state": state, "name": name})
    return out
