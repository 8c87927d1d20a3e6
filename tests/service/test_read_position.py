"""Read-your-writes (R12) with fake read sides: never older data than asked; a read side
that does not get there in the bound answers 503 with `Retry-After`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.api.problems import Unprocessable
from service.api.read_position import (
    MIN_POSITION_HEADER,
    POSITION_HEADER,
    MinPositionBeyondLog,
    ReadSideBehind,
    ReadSideBusy,
    Waiters,
    WaitPolicy,
    parse_min_position,
    read_at_least,
    retry_after_s,
    wait_for_position,
)


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Replica:
    """A read side that reaches each of `positions` in turn, one per look, then stays."""

    def __init__(self, *positions: int) -> None:
        self._positions: Iterator[int] = iter(positions)
        self.last = positions[0]
        self.looks = 0

    async def __call__(self) -> int:
        self.looks += 1
        self.last = next(self._positions, self.last)
        return self.last


@pytest.mark.parametrize("raw", ["0", "7", " 42 ", "9223372036854775807"])
def test_a_position_header_is_a_non_negative_integer(raw: str) -> None:
    assert parse_min_position(raw) == int(raw)


def test_no_header_asks_for_nothing() -> None:
    assert parse_min_position(None) is None


@pytest.mark.parametrize(
    "raw", ["", "-1", "+3", "1.0", "1e3", "abc", "٣", "9223372036854775808", "1" * 40]
)
def test_anything_else_is_a_422_naming_the_header(raw: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        parse_min_position(raw)
    assert refused.value.status == 422
    body = refused.value.problem()
    assert body["type"].endswith("/invalid-min-position")
    assert body["header"] == MIN_POSITION_HEADER


async def test_a_read_side_already_there_answers_at_once() -> None:
    clock, replica = FakeClock(), Replica(12)
    assert await wait_for_position(10, replica, sleep=clock.sleep, clock=clock) == 12
    assert clock.sleeps == [] and replica.looks == 1


async def test_without_a_minimum_the_read_answers_what_it_reflects() -> None:
    clock = FakeClock()
    assert await wait_for_position(None, Replica(3), sleep=clock.sleep, clock=clock) == 3
    assert clock.sleeps == []


async def test_a_lagging_read_side_is_waited_for_and_never_answers_older() -> None:
    clock, replica = FakeClock(), Replica(5, 6, 8, 9, 10, 11)
    reflected = await wait_for_position(10, replica, sleep=clock.sleep, clock=clock)
    assert reflected == 10  # the first look at or past what was asked, not 9
    assert replica.looks == 5
    assert clock.sleeps == sorted(clock.sleeps)  # backing off, never hurrying


async def test_a_read_side_that_does_not_get_there_answers_503_with_retry_after() -> None:
    clock, policy = FakeClock(), WaitPolicy(bound_s=2.0)
    with pytest.raises(ReadSideBehind) as behind:
        await wait_for_position(50, Replica(10, 20, 30), policy, sleep=clock.sleep, clock=clock)
    problem = behind.value
    assert problem.status == 503
    assert problem.headers["Retry-After"] == "2"
    assert problem.headers[POSITION_HEADER] == "30"
    assert problem.problem()["type"].endswith("/read-side-behind")
    assert (problem.extra["asked"], problem.extra["reflected"]) == (50, 30)
    assert clock.now == pytest.approx(2.0)  # waited the whole bound, no longer


async def test_the_bound_is_configurable() -> None:
    clock = FakeClock()
    with pytest.raises(ReadSideBehind):
        await wait_for_position(
            2, Replica(1), WaitPolicy(bound_s=0.25), sleep=clock.sleep, clock=clock
        )
    assert clock.now == pytest.approx(0.25)


def test_back_off_is_capped_and_sums_to_the_bound() -> None:
    policy = WaitPolicy(bound_s=2.0, first_delay_s=0.005, max_delay_s=0.1)
    delays = policy.delays()
    assert delays[0] == 0.005 and max(delays) == 0.1
    assert sum(delays) == pytest.approx(2.0)
    # polling stays cheap: about 20 looks per bound at the cap, not hundreds
    assert len(delays) < 30


def test_retry_after_is_short_for_a_step_behind_and_the_bound_when_far() -> None:
    policy = WaitPolicy(bound_s=2.0)
    assert retry_after_s(10, 9, policy) == 1
    assert retry_after_s(10, 2, policy) == 2
    assert retry_after_s(10, 2, WaitPolicy(bound_s=0.2)) == 1


async def test_read_at_least_sets_the_position_on_the_answer() -> None:
    answer: dict[str, str] = {}
    got = await read_at_least({MIN_POSITION_HEADER: "4"}, answer, Replica(4))
    assert got == 4 and answer == {POSITION_HEADER: "4"}


async def test_read_at_least_without_the_header_still_says_the_position() -> None:
    answer: dict[str, str] = {}
    assert await read_at_least({}, answer, Replica(9)) == 9
    assert answer[POSITION_HEADER] == "9"


async def test_read_at_least_refuses_a_bad_header_before_reading() -> None:
    replica = Replica(1)
    with pytest.raises(Unprocessable):
        await read_at_least({MIN_POSITION_HEADER: "soon"}, {}, replica)
    assert replica.looks == 0


async def test_a_minimum_beyond_the_head_is_refused_without_waiting() -> None:
    clock = FakeClock()
    with pytest.raises(MinPositionBeyondLog) as beyond:
        await wait_for_position(
            999_999, Replica(10), head=Replica(12), sleep=clock.sleep, clock=clock
        )
    assert beyond.value.status == 422 and beyond.value.rule == "min-position-beyond-log"
    assert clock.sleeps == []
    # within the head it is waited for as before
    assert await wait_for_position(12, Replica(10, 12), head=Replica(12), sleep=clock.sleep) == 12


async def test_waiters_over_the_cap_are_answered_at_once() -> None:
    waiters = Waiters(1)
    clock = FakeClock()
    with waiters.slot(), pytest.raises(ReadSideBusy) as busy:  # one read waits already
        await wait_for_position(5, Replica(4), waiters=waiters, sleep=clock.sleep)
    assert busy.value.status == 503 and busy.value.headers["Retry-After"] == "1"
    assert clock.sleeps == [] and waiters.waiting == 0
    # a read the read side has reached already takes no slot
    with waiters.slot():
        assert await wait_for_position(4, Replica(4), waiters=waiters) == 4
