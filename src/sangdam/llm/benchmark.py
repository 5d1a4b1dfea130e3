"""Benchmark of the embedded tiers (``sangdam llm bench`` and ``bench/llm/run.py``).

Each tier runs in its own subprocess so its peak RSS is its own. Per tier it measures: load time; prefill and
decode tokens/s and time to first token, through Sangdam and through bare ``llama-cpp-python`` on the same
tokens in the same process (ratio); the prefix-cache gain on a realistic static head (classification prompt,
few-shot examples, tool schemas) plus one Korean customer turn; JSON validity over N structured calls; and
which tool-call prompt format works with the model. Numbers are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

BENCH_YAML = Path(__file__).resolve().parent.parent / "resources" / "llm" / "bench.yaml"
SPEED_SYSTEM = "당신은 누리텔레콤 고객센터 상담원입니다. 정중한 존댓말로 정확하게 답하세요."
SPEED_TURN = "요금제 변경 절차를 단계별로 자세히 설명해 주세요."
TOOL_SYSTEM = "당신은 누리텔레콤 상담원입니다. 필요한 경우에만 도구를 호출하세요."


def _cases() -> dict[str, Any]:
    return yaml.safe_load(BENCH_YAML.read_text(encoding="utf-8"))


def _static_head(cases: dict[str, Any]) -> str:
    tools = "\n".join(json.dumps(t["function"], ensure_ascii=False) for t in cases["tools"])
    return f"{cases['system_prompt']}\n참고용 도구 목록:\n{tools}\n답은 JSON 한 개로만 하세요."


def _rates(prompt_tokens: int, completion_tokens: int, prefill_ms: float, first_ms: float, total_ms: float) -> dict:
    decode_s = max(total_ms - first_ms, 1e-6) / 1000
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "prefill_tok_s": round(prompt_tokens / max(prefill_ms / 1000, 1e-6), 1),
            "decode_tok_s": round(max(completion_tokens - 1, 0) / decode_s, 2),
            "first_token_ms": round(first_ms), "total_ms": round(total_ms)}


def _bare_call(llm: Any, tokens: list[int], max_tokens: int) -> dict:
    """The same tokens through llama-cpp-python alone (no Sangdam code in the loop)."""
    import llama_cpp

    llm.reset()
    llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
    started = time.perf_counter()
    first = None
    n = 0
    for _ in llm.create_completion(tokens, max_tokens=max_tokens, temperature=0.0, stream=True):
        if first is None:
            first = (time.perf_counter() - started) * 1000
        n += 1
    total = (time.perf_counter() - started) * 1000
    perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
    return _rates(len(tokens), max(n, perf.n_eval), perf.t_p_eval_ms, first or total, total)


def _speed(backend: Any, rounds: int, log: Callable[[str], None]) -> dict:
    from sangdam.llm.backend import ChatRequest
    from sangdam.llm.types import Message

    messages = [Message(role="system", content=SPEED_SYSTEM), Message(role="user", content=SPEED_TURN)]
    prompt, _ = backend.render(ChatRequest(messages=messages))
    tokens = backend._tokenize(prompt)
    capacity = backend.prefix_cache.capacity
    backend.prefix_cache.capacity = 0  # measure raw speed: no reuse on either side
    ours, bare = [], []
    try:
        for i in range(rounds):
            for side in ("bare", "ours") if i % 2 == 0 else ("ours", "bare"):  # alternate: load drifts
                if side == "bare":
                    bare.append(_bare_call(backend.llama, tokens, 64))
                    continue
                backend.llama.reset()
                r = backend.chat(messages, max_tokens=64, temperature=0.0)
                ours.append(_rates(r.usage.prompt_tokens, r.usage.completion_tokens, r.timings.prefill_ms,
                                   r.timings.first_token_ms, r.timings.total_ms))
            log(f"  speed round {i + 1}: sangdam {ours[-1]['decode_tok_s']} tok/s, bare {bare[-1]['decode_tok_s']} tok/s")
    finally:
        backend.prefix_cache.capacity = capacity
    best_ours = max(ours, key=lambda x: x["decode_tok_s"])
    best_bare = max(bare, key=lambda x: x["decode_tok_s"])
    return {"sangdam": best_ours, "bare_llama_cpp": best_bare,
            "ratio_decode": round(best_ours["decode_tok_s"] / max(best_bare["decode_tok_s"], 1e-6), 3),
            "ratio_prefill": round(best_ours["prefill_tok_s"] / max(best_bare["prefill_tok_s"], 1e-6), 3),
            "ratio_total": round(min(b["total_ms"] for b in bare) / max(min(o["total_ms"] for o in ours), 1e-6), 3),
            "rounds": rounds}


def _prefix_cache(backend: Any, head: str, cases: dict[str, Any], log: Callable[[str], None]) -> dict:
    schema = cases["schema"]
    turns = cases["utterances"][:3]

    def classify(text: str) -> Any:
        return backend.chat([{"role": "system", "content": head}, {"role": "user", "content": text}],
                            json_schema=schema, max_tokens=48, temperature=0.0)

    capacity = backend.prefix_cache.capacity
    backend.prefix_cache.capacity = 0
    uncached = []
    for text in turns[1:]:
        backend.llama.reset()
        uncached.append(classify(text).timings.total_ms)
    backend.prefix_cache.capacity = capacity
    backend.llama.reset()
    first = classify(turns[0])  # evaluates the head once and snapshots it
    warm, cached_tokens = [], 0
    for text in turns[1:]:
        backend.chat("안녕하세요", max_tokens=4)  # another prompt takes over the KV cache in between
        r = classify(text)
        warm.append(r.timings.total_ms)
        cached_tokens = r.usage.cached_prompt_tokens
    log(f"  prefix cache: uncached {statistics.median(uncached):.0f} ms, cached {statistics.median(warm):.0f} ms")
    snapshot = next(iter(backend.prefix_cache._states.values()), None)
    return {"head_tokens": cached_tokens, "prompt_tokens": first.usage.prompt_tokens,
            "first_call_ms": round(first.timings.total_ms),
            "uncached_median_ms": round(statistics.median(uncached)),
            "cached_median_ms": round(statistics.median(warm)),
            "speedup": round(statistics.median(uncached) / max(statistics.median(warm), 1e-6), 2),
            "snapshot_mb": round(snapshot.nbytes / 2**20, 1) if snapshot else None,
            "goal_cached_under_2s": statistics.median(warm) < 2000}


def _json_validity(backend: Any, head: str, cases: dict[str, Any], n: int, log: Callable[[str], None]) -> dict:
    from sangdam.llm.errors import StructuredOutputError

    first_try = repaired = failed = 0
    times: list[float] = []
    failures: list[dict] = []
    utterances = (cases["utterances"] * (n // len(cases["utterances"]) + 1))[:n]
    for text in utterances:
        try:
            r = backend.chat([{"role": "system", "content": head}, {"role": "user", "content": text}],
                             json_schema=cases["schema"], max_tokens=64, temperature=0.0)
            repaired += r.repaired
            first_try += not r.repaired
            times.append(r.timings.total_ms)
        except StructuredOutputError as exc:
            failed += 1
            failures.append({"utterance": text, "errors": exc.errors[:3], "raw": exc.raw[:200]})
    log(f"  JSON validity: {first_try + repaired}/{n} valid ({repaired} after repair)")
    return {"calls": n, "valid_first_try": first_try, "valid_after_repair": repaired, "invalid": failed,
            "validity_rate": round((first_try + repaired) / max(n, 1), 3),
            "first_try_rate": round(first_try / max(n, 1), 3),
            "median_ms": round(statistics.median(times)) if times else None, "failures": failures}


def _tool_formats(backend: Any, cases: dict[str, Any], log: Callable[[str], None]) -> dict:
    from sangdam.llm.errors import StructuredOutputError

    results = {}
    original = backend.tool_format
    for fmt in ("native_grammar", "native_free", "json_grammar"):
        backend.tool_format = fmt
        correct, repaired, times = 0, 0, []
        for case in cases["tool_cases"]:
            messages = [{"role": "system", "content": TOOL_SYSTEM}, {"role": "user", "content": case["text"]}]
            try:
                r = backend.chat(messages, tools=cases["tools"], max_tokens=96, temperature=0.0)
            except StructuredOutputError:
                continue
            names = [c.function.name for c in r.tool_calls]
            ok = (not names and bool(r.text.strip())) if case["expect"] is None else names[:1] == [case["expect"]]
            correct += ok
            repaired += r.repaired
            times.append(r.timings.total_ms)
        results[fmt] = {"correct": correct, "cases": len(cases["tool_cases"]), "repaired": repaired,
                        "median_ms": round(statistics.median(times)) if times else None}
        log(f"  tools {fmt}: {correct}/{len(cases['tool_cases'])} correct")
    backend.tool_format = original
    return results


def bench_tier(role: str, *, structured_calls: int = 50, tool_formats: bool = True, speed_rounds: int = 3,
               prefix_cache: bool = True, log: Callable[[str], None] = print) -> dict:
    """Measure one embedded role in this process (see the module docstring).

    ``speed_rounds=1, prefix_cache=False`` and few structured calls make the quick mode of ``bench/llm/run.py``.
    """
    from sangdam.llm.config import load_llm_config
    from sangdam.llm.router import build_backend

    cfg = load_llm_config().roles[role]  # type: ignore[index]
    if cfg.backend != "embedded":
        return {"role": role, "skipped": f"backend {cfg.backend} is not embedded"}
    backend = build_backend(cfg)
    cases = _cases()
    head = _static_head(cases)
    started = time.perf_counter()
    backend.load()
    report: dict[str, Any] = {"role": role, "model": backend.model, "n_threads": backend.n_threads,
                              "load_ms": round((time.perf_counter() - started) * 1000),
                              "loadavg_start": os.getloadavg()[0]}
    log(f"{role}: {backend.model} loaded in {report['load_ms']} ms")
    report["speed"] = _speed(backend, speed_rounds, log)
    if prefix_cache:
        report["prefix_cache"] = _prefix_cache(backend, head, cases, log)
    report["json"] = _json_validity(backend, head, cases, structured_calls, log)
    if tool_formats:
        report["tool_formats"] = _tool_formats(backend, cases, log)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report["loadavg_end"] = os.getloadavg()[0]
    return report


def run_benchmark(roles: list[str], *, structured_calls: int = 50, tool_formats: bool = True, speed_rounds: int = 3,
                  prefix_cache: bool = True, log: Callable[[str], None] = print) -> dict:
    """Run ``bench_tier`` for each role in a fresh subprocess; return all reports."""
    report: dict[str, Any] = {"cpu_count": os.cpu_count(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
                              "tiers": {}}
    for role in roles:
        cmd = [sys.executable, "-m", "sangdam.llm.benchmark", role, str(structured_calls),
               "1" if tool_formats else "0", str(speed_rounds), "1" if prefix_cache else "0"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None and proc.stdout is not None
        for line in proc.stderr:
            log(line.rstrip())
        out = proc.stdout.read()
        if proc.wait() != 0:
            report["tiers"][role] = {"role": role, "error": f"benchmark subprocess failed (exit {proc.returncode})"}
            continue
        report["tiers"][role] = json.loads(out)
    return report


def render_report(report: dict, console: Any) -> None:
    """Human-readable tables of a ``run_benchmark`` report."""
    from rich.table import Table

    table = Table(title=f"Embedded LLM benchmark ({report['cpu_count']} cores)")
    for col in ("tier", "model", "prefill tok/s", "decode tok/s", "first token", "vs bare", "cached call",
                "cache gain", "JSON valid", "peak RSS"):
        table.add_column(col)
    for role, t in report["tiers"].items():
        if "speed" not in t:
            table.add_row(role, t.get("skipped") or t.get("error", ""), *[""] * 8)
            continue
        s, p, j = t["speed"]["sangdam"], t.get("prefix_cache"), t["json"]
        table.add_row(role, t["model"], f"{s['prefill_tok_s']}", f"{s['decode_tok_s']}", f"{s['first_token_ms']} ms",
                      f"{t['speed']['ratio_decode']}x", f"{p['cached_median_ms']} ms" if p else "-",
                      f"{p['speedup']}x" if p else "-",
                      f"{j['validity_rate']:.0%}", f"{t['peak_rss_mb']} MB")
    console.print(table)
    for role, t in report["tiers"].items():
        for fmt, r in (t.get("tool_formats") or {}).items():
            console.print(f"{role} tool format {fmt}: {r['correct']}/{r['cases']} correct, median {r['median_ms']} ms")


if __name__ == "__main__":  # child process of run_benchmark: one tier, JSON on stdout, progress on stderr
    _role, _n, _tools = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    _rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    _prefix = sys.argv[5] != "0" if len(sys.argv) > 5 else True
    _report = bench_tier(_role, structured_calls=_n, tool_formats=_tools, speed_rounds=_rounds, prefix_cache=_prefix,
                         log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(_report, ensure_ascii=False))
