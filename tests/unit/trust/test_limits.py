"""The function limits: sizes and durations people type, and what each limit says."""

from __future__ import annotations

import signal

import pytest

from lanai.trust import limits

MIB = limits.MIB


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("256", 256 * MIB),
        ("256Mi", 256 * MIB),
        (" 512 Mi ", 512 * MIB),
        ("1Gi", 1024 * MIB),
        ("1.5Gi", 1536 * MIB),
        ("65536Ki", 64 * MIB),
        ("300M", 300_000_000),
        ("1G", 1_000_000_000),
        ("32", 32 * MIB),
        ("64Gi", 64 * 1024 * MIB),
    ],
)
def test_memory_sizes(text: str, expected: int) -> None:
    assert limits.parse_memory(text) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "is not a size"),
        ("lots", "is not a size"),
        ("-1", "is not a size"),
        ("256MB", "is not a size"),
        ("1e9", "is not a size"),
        ("31", "outside 32 MiB"),
        ("0", "outside 32 MiB"),
        ("65Gi", "outside 32 MiB .. 65536 MiB"),
    ],
)
def test_memory_sizes_refused(text: str, complaint: str) -> None:
    with pytest.raises(limits.LimitError, match=complaint):
        limits.parse_memory(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("60", 60.0), ("1.5", 1.5), ("90s", 90.0), ("2m", 120.0), ("1h", 3600.0), ("24h", 86400.0)],
)
def test_durations(text: str, expected: float) -> None:
    assert limits.parse_seconds(text) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [("0", "outside"), ("25h", "outside"), ("soon", "not a duration"), ("-5", "not a duration")],
)
def test_durations_refused(text: str, complaint: str) -> None:
    with pytest.raises(limits.LimitError, match=complaint):
        limits.parse_seconds(text)


@pytest.mark.parametrize(
    ("value", "ok"), [(1, True), (2, True), (32, True), (0, False), (33, False)]
)
def test_worker_counts(value: int, ok: bool) -> None:
    if ok:
        assert limits.check_workers(value) == value
    else:
        with pytest.raises(limits.LimitError, match="function workers"):
            limits.check_workers(value)


@pytest.mark.parametrize(
    ("value", "shown"), [(256 * MIB, "256 MiB"), (300_000_000, "286.1 MiB"), (MIB // 2, "0.5 MiB")]
)
def test_sizes_are_shown_in_mib(value: int, shown: str) -> None:
    assert limits.mib(value) == shown


def test_messages_name_the_function_and_the_limit() -> None:
    assert (
        limits.memory_exceeded("starlark", 256 * MIB)
        == "function starlark exceeded its 256 MiB memory limit"
    )
    assert (
        limits.time_exceeded("example.com/fn:v1", 60.0)
        == "function example.com/fn:v1 exceeded its 60 s time limit"
    )
    assert limits.time_exceeded(None, 0.5) == "the render exceeded its 0.5 s time limit"
    assert limits.memory_exceeded(None, 64 * MIB) == "the render exceeded its 64 MiB memory limit"
    assert limits.exceeded("memory", "f", 32 * MIB) == limits.memory_exceeded("f", 32 * MIB)
    assert limits.exceeded("time", "f", 2.0) == limits.time_exceeded("f", 2.0)


@pytest.mark.parametrize(
    ("timeout", "kill_at"), [(0.5, 1.5), (1.0, 2.0), (30.0, 33.0), (60.0, 66.0), (600.0, 610.0)]
)
def test_the_kill_comes_a_little_after_the_deadline(timeout: float, kill_at: float) -> None:
    assert limits.kill_after(timeout) == kill_at


@pytest.mark.parametrize(("timeout", "render"), [(1.0, 300.0), (60.0, 600.0), (120.0, 1200.0)])
def test_a_whole_render_has_a_deadline_too(timeout: float, render: float) -> None:
    assert limits.render_time_limit(timeout) == render


def test_the_data_limit_is_what_the_worker_holds_plus_the_cap() -> None:
    assert limits.data_limit(30 * MIB, 256 * MIB) == 286 * MIB


@pytest.mark.parametrize(
    ("resident", "baseline", "recycle"),
    [(40 * MIB, 39 * MIB, False), (103 * MIB, 39 * MIB, False), (104 * MIB, 39 * MIB, True)],
)
def test_a_worker_that_kept_memory_is_recycled(resident: int, baseline: int, recycle: bool) -> None:
    assert limits.should_recycle(resident, baseline) is recycle


@pytest.mark.parametrize(
    ("stderr", "oom"),
    [
        ("memory allocation of 8000000000 bytes failed\n", True),
        ("fatal error: runtime: out of memory\n", True),
        ("Traceback ...\nMemoryError\n", True),
        ("OSError: [Errno 12] Cannot allocate memory", True),
        ("terminate called after throwing an instance of 'std::bad_alloc'", True),
        ("error: replicas must be positive", False),
        ("", False),
    ],
)
def test_last_words_that_mean_out_of_memory(stderr: str, oom: bool) -> None:
    assert limits.out_of_memory(stderr) is oom


@pytest.mark.parametrize(
    ("returncode", "stderr", "killed_by_us", "memory"),
    [
        (-signal.SIGABRT, "memory allocation of 8 bytes failed", False, True),
        (-signal.SIGKILL, "", False, True),  # the kernel's OOM killer
        (-signal.SIGKILL, "", True, False),  # our own deadline
        (-signal.SIGSEGV, "", False, False),
        (2, "fatal error: runtime: out of memory", False, True),
        (1, "validation failed", False, False),
    ],
)
def test_what_a_death_means(returncode: int, stderr: str, killed_by_us: bool, memory: bool) -> None:
    assert limits.died_of_memory(returncode, stderr, killed_by_us=killed_by_us) is memory
