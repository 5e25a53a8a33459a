"""Fair turns for training steps (server/scheduler.py): FIFO turns within the slots, a place in
line kept while a command runs, every session advancing at the same pace."""

from __future__ import annotations

import time

from srv_helpers import create

from server.scheduler import (
    QUANTUM_MAX_S,
    QUANTUM_MIN_S,
    SCHEDULER,
    EdgeBudget,
    StepScheduler,
    Ticket,
)


def test_turns_are_first_come_first_served_within_the_slots():
    sched = StepScheduler(slots=1)
    a, b, c = Ticket(), Ticket(), Ticket()
    for t in (a, b, c):
        sched.enter(t)
    assert (a.granted, b.granted, c.granted) == (True, False, False)
    assert a.event.is_set() and not b.event.is_set()
    sched.leave(a)  # a's step is done: b is next, and a goes to the back
    sched.enter(a)
    assert (a.granted, b.granted, c.granted) == (False, True, False)
    sched.leave(c)  # c gives up its place (paused): a comes after b
    sched.leave(b)
    assert a.granted and not c.granted and sched.running == 1 and sched.waiting == 0
    sched.leave(a)
    assert sched.running == 0


def test_more_slots_and_a_nudge():
    sched = StepScheduler(slots=2)
    ts = [Ticket() for _ in range(3)]
    for t in ts:
        sched.enter(t)
    assert [t.granted for t in ts] == [True, True, False]
    ts[2].nudge()  # a command woke the worker: it is not its turn yet
    assert ts[2].event.is_set() and not ts[2].granted
    sched.configure(3)
    assert ts[2].granted and sched.running == 3


def test_sessions_training_at_once_advance_at_the_same_pace(client):
    SCHEDULER.configure(1)
    try:
        sessions = [create(client, preset="toy", seed=k) for k in range(4)]
        for s in sessions:
            r = client.post(s.url("/train"), json={"steps": 10_000}, headers=s.headers)
            assert r.status_code == 200
        manager = client.app.state.manager
        live = [manager.get_live(s.id) for s in sessions]
        deadline = time.monotonic() + 60
        while min(x.step for x in live) < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        steps = [x.step for x in live]  # read within microseconds of each other
        assert min(steps) >= 15, steps
        # turns alternate (a turn is a short quantum of steps): nobody runs far ahead
        assert max(steps) <= 2 * min(steps) + 10, steps
        # an edit is answered between steps, not after the others' turns
        t0 = time.perf_counter()
        r = client.post(sessions[0].url("/edges/0/0/0/prune"), headers=sessions[0].headers)
        assert r.status_code == 200 and time.perf_counter() - t0 < 5.0
        for s in sessions:
            client.post(s.url("/pause"), headers=s.headers)
        deadline = time.monotonic() + 10  # each worker leaves the line once paused
        while (SCHEDULER.running or SCHEDULER.waiting) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert SCHEDULER.running == 0 and SCHEDULER.waiting == 0
    finally:
        SCHEDULER.configure(0)


def test_edge_budget_spaces_edges_only_under_contention():
    b = EdgeBudget(share=0.5)
    b.stepped(0.1)
    assert b.allow(contended=True)  # nothing measured yet
    b.published(0.2)  # edges cost two steps
    for n in range(1, 5):
        b.stepped(0.1)
        assert b.allow(contended=False)  # alone: every step
        assert b.allow(contended=True) == (n >= 4), n  # 4 steps x 0.1 s x 0.5 >= 0.2 s


def test_a_turn_is_a_quantum_that_grows_with_the_cost_of_handing_over():
    sched = StepScheduler(slots=1)
    t = Ticket()
    sched.enter(t)
    now = time.monotonic()
    end = sched.started(t)
    assert QUANTUM_MIN_S <= end - now <= QUANTUM_MIN_S + 0.01  # handed over at once
    sched.leave(t)
    slow = Ticket()
    sched.enter(slow)
    slow.granted_at -= 0.1  # its worker took 100 ms to start
    end = sched.started(slow)
    assert end - time.monotonic() > 0.05 and end - time.monotonic() <= QUANTUM_MAX_S


def test_a_busy_ticket_keeps_its_place_but_is_passed_over():
    sched = StepScheduler(slots=1)
    a, b, c = Ticket(), Ticket(), Ticket()
    for t in (a, b, c):
        sched.enter(t)
    sched.set_busy(b, True)  # b's worker runs a command
    sched.leave(a)
    assert c.granted and not b.granted  # passed over, not dropped
    sched.set_busy(b, False)
    sched.leave(c)
    assert b.granted  # first again once its command is done
    sched.set_busy(b, True)  # granted just before a command: handed back, first in line
    assert not b.granted and sched.running == 0 and sched.waiting == 1
    sched.set_busy(b, False)
    assert b.granted
