"""check() hardened (issue 18): time limits, exceptions of every kind, type checks."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from coursekit.exercises import check
from coursekit.exercises.guard import CaseTimeout, call_with_time_limit, type_problem


def right_precision(recommended, relevant, k):
    relevant = set(relevant)
    return sum(item in relevant for item in list(recommended)[:k]) / k


def test_infinite_loop_is_a_timeout_failure_not_a_hung_cell():
    def loops(recommended, relevant, k):
        while True:
            pass

    start = time.perf_counter()
    result = check("ex01_precision_at_k", loops, verbose=False, time_limit=0.3)
    assert time.perf_counter() - start < 5
    assert result.status == "failed" and result.timed_out and not result
    assert "ran for more than 0.3 s" in result.message and result.details[0]["timeout"]


def test_a_loop_that_swallows_exceptions_is_stopped_too():
    def stubborn(recommended, relevant, k):
        while True:
            try:
                while True:
                    pass
            except Exception:   # noqa: BLE001 - CaseTimeout is not an Exception
                pass

    result = check("ex01_precision_at_k", stubborn, verbose=False, time_limit=0.2)
    assert result.timed_out


def test_time_limit_outside_the_main_thread_uses_a_worker_thread():
    box = {}

    def run():
        box["result"] = check("ex01_precision_at_k", lambda *a: time.sleep(30), verbose=False, time_limit=0.2)

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    assert not t.is_alive() and box["result"].timed_out


def test_a_slow_but_finite_function_passes_under_the_default_limit():
    def slowish(recommended, relevant, k):
        time.sleep(0.001)
        return right_precision(recommended, relevant, k)

    result = check("ex01_precision_at_k", slowish, verbose=False)
    assert result.status == "passed" and not result.timed_out


def test_the_timer_is_restored():
    import signal

    before = signal.getitimer(signal.ITIMER_REAL)     # pytest-timeout may hold a timer: it is given back
    handler = signal.getsignal(signal.SIGALRM)
    assert call_with_time_limit(lambda: 3, (), 0.5) == 3
    with pytest.raises(CaseTimeout):
        call_with_time_limit(time.sleep, (5,), 0.1)
    after = signal.getitimer(signal.ITIMER_REAL)
    assert abs(after[0] - before[0]) < 2 and after[1] == before[1]
    assert signal.getsignal(signal.SIGALRM) is handler


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt(), GeneratorExit(), ValueError("bad"),
                                 RecursionError("deep")])
def test_every_exception_of_the_student_is_a_failure(exc, capsys):
    def raises(*args):
        raise exc

    result = check("ex01_precision_at_k", raises)   # must not raise
    assert result.status == "failed"
    assert type(exc).__name__ in capsys.readouterr().out


def test_keyboard_interrupt_stops_the_remaining_cases():
    calls = []

    def interrupted(*args):
        calls.append(1)
        raise KeyboardInterrupt

    result = check("ex01_precision_at_k", interrupted, verbose=False)
    assert len(calls) == 1 and "interrupted" in result.message


def test_system_exit_is_reported_for_every_case():
    result = check("ex01_precision_at_k", lambda *a: exit(0), verbose=False)
    assert result.status == "failed" and "SystemExit" in result.details[0]["problem"]


@pytest.mark.parametrize("name, wrap", [
    ("ex01_precision_at_k", str),
    ("ex01_ndcg_at_k", lambda x: np.str_(x)),
    ("ex01_average_precision_at_k", lambda x: np.array([str(x)])),
    ("ex01_precision_at_k", lambda x: [str(x)]),
])
def test_a_right_value_returned_as_text_fails_clearly(name, wrap):
    from tests.test_exercises import REFERENCE

    result = check(name, lambda *a: wrap(REFERENCE[name](*a)), verbose=False)
    assert result.status == "failed"
    assert "text" in result.details[0]["problem"], result.message


def test_type_problem_in_tuples_and_arrays():
    assert type_problem((np.ones(2), 1.0), (np.ones(2), "1.0")).startswith("item 1")
    assert type_problem(np.ones(2), np.array(["1", "1"])) is not None
    assert type_problem(np.ones(2), np.array([1.0, 1.0])) is None
    assert type_problem("text", "text") is None


def test_an_answer_whose_comparison_raises_is_a_failure():
    class Weird:
        def __float__(self):
            raise SystemExit("no")

        def __array__(self, *a, **k):
            raise SystemExit("no")

    result = check("ex01_precision_at_k", lambda *a: Weird(), verbose=False)
    assert result.status == "failed"
