"""Staying usable while an outside system fails: a circuit breaker, and the fault that says "nothing was sent".

A system that times out or answers 5xx again and again is not helped by more calls, and every call makes a customer
wait for the timeout. :class:`CircuitBreaker` counts consecutive failures; after ``failures`` of them it *opens*
and calls fail at once (:class:`CircuitOpen`) for ``reset_s`` seconds; then it is *half-open*: one trial call is let
through, and its outcome closes the circuit again or reopens it for another ``reset_s``. Only faults of the system
count (:class:`~sangdam.backends.core.BackendUnavailable`); a refusal with a reason (a 4xx, a tool error) is a
healthy answer.

A write that failed before its request left Sangdam (the circuit was open, the connection was refused) is known not
to have happened: :func:`not_sent` turns that fault into a plain ``backend_unavailable`` refusal, so the customer is
told nothing was done, instead of "the outcome is unknown" (which is what a lost answer to a sent write gets).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sangdam.backends.core import BackendUnavailable
from sangdam.tools.base import ToolError

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitOpen(BackendUnavailable):
    """A call refused without trying: the circuit of ``name`` is open (``retry_after_s`` until the next trial)."""

    def __init__(self, name: str, retry_after_s: float) -> None:
        super().__init__(
            f"{name}: circuit open after repeated failures; not calling it for another {retry_after_s:.1f} s",
            {"circuit": name, "retry_after_s": round(retry_after_s, 1)},
        )


class CircuitBreaker:
    """Consecutive-failure circuit breaker, safe to share between threads.

    ``clock`` (seconds, monotonic) is injectable so tests move time instead of sleeping.
    """

    def __init__(self, name: str, failures: int = 5, reset_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1 or reset_s <= 0:
            raise ValueError("a circuit needs failures >= 1 and reset_s > 0")
        self.name, self.failures, self.reset_s, self.clock = name, failures, reset_s, clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial = False  # a half-open trial call is in flight

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (open and its wait is over: the next call is the trial)."""
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        return HALF_OPEN if self.clock() - self._opened_at >= self.reset_s else OPEN

    def before_call(self) -> None:
        """Let a call through, or raise :class:`CircuitOpen` (open; or half-open with its trial under way)."""
        with self._lock:
            state = self._state()
            if state == CLOSED:
                return
            if state == HALF_OPEN and not self._trial:
                self._trial = True
                return
            waited = self.clock() - (self._opened_at or 0.0)
            raise CircuitOpen(self.name, max(self.reset_s - waited, 0.0))

    def record_success(self) -> None:
        """The system answered: close the circuit."""
        with self._lock:
            self._consecutive, self._opened_at, self._trial = 0, None, False

    def record_failure(self) -> None:
        """The system failed: count it; the ``failures``-th in a row (or a failed trial) opens the circuit."""
        with self._lock:
            self._consecutive += 1
            if self._trial or self._consecutive >= self.failures:
                self._opened_at = self.clock()
            self._trial = False

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` under the breaker: a ``BackendUnavailable`` it raises counts as a failure, anything it
        returns (or any other error, such as a refusal) as an answer."""
        self.before_call()
        try:
            result = fn()
        except BackendUnavailable:
            self.record_failure()
            raise
        except Exception:
            self.record_success()
            raise
        except BaseException:  # interrupted (cancelled, Ctrl-C): no verdict, but a trial must not stay in flight
            with self._lock:
                self._trial = False
            raise
        self.record_success()
        return result


class NotReached(BackendUnavailable):
    """The request never left Sangdam (no connection could be opened): nothing was sent, nothing was done."""


def not_sent(exc: BackendUnavailable, **details: Any) -> ToolError:
    """``exc`` for a write that certainly never reached the system: a ``backend_unavailable`` refusal (nothing was
    done, the customer may try again or ask for an agent), not a :class:`BackendUnavailable` (outcome unknown)."""
    return ToolError("backend_unavailable", exc.message_en, {**exc.details, **details, "sent": False})
