"""``sangdam pii mask``: the JSON-lines contract, single-text form, and refusal of ambiguous input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from sangdam.cli import app

SANGDAM = Path(sys.executable).with_name("sangdam")


def test_jsonl_mode_prints_one_object_per_input_line_without_originals() -> None:
    lines = [
        "제 번호는 공일공 일이삼사 오육칠팔이에요",
        "",
        "요금 89,000원, 데이터 12.5GB",
        "주민번호 850315-1408751 카드 ４５２６－０１８１－５９０８－３０１２",
    ]
    proc = subprocess.run(
        [str(SANGDAM), "pii", "mask", "--jsonl"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
        timeout=60,
    )
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(out) == len(lines)
    for obj in out:
        assert set(obj) == {"masked", "entities"}
        assert all(set(e) == {"type", "start", "end"} for e in obj["entities"])
    assert out[0] == {"masked": "제 번호는 [전화번호]이에요", "entities": [{"type": "phone", "start": 6, "end": 19}]}
    assert out[1] == {"masked": "", "entities": []}
    assert out[2] == {"masked": lines[2], "entities": []}
    assert [e["type"] for e in out[3]["entities"]] == ["rrn", "card"]
    assert [lines[3][e["start"] : e["end"]] for e in out[3]["entities"]] == [
        "850315-1408751",
        "４５２６－０１８１－５９０８－３０１２",
    ]
    # Originals never printed; Korean printed as is (ensure_ascii=False).
    assert "850315" not in proc.stdout and "4526" not in proc.stdout and "１２３４" not in proc.stdout
    assert "[주민등록번호]" in proc.stdout


def test_single_text_argument_prints_one_json_object() -> None:
    result = CliRunner().invoke(app, ["pii", "mask", "연락처 010-2345-6789요"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "masked": "연락처 [전화번호]요",
        "entities": [{"type": "phone", "start": 4, "end": 17}],
    }


def test_text_and_jsonl_together_is_an_error() -> None:
    result = CliRunner().invoke(app, ["pii", "mask", "abc", "--jsonl"])
    assert result.exit_code == 2
    assert "either TEXT or --jsonl" in result.output


def test_no_input_is_an_error() -> None:
    result = CliRunner().invoke(app, ["pii", "mask"])
    assert result.exit_code == 2
