"""The services' event bus: any number of subscribers, unsubscribe, and a failing subscriber is contained."""

from __future__ import annotations

import dataclasses
import logging
import threading

import pytest

from openclaw_local.services.events import AdapterSwapped, EventBus, Judged


def test_every_subscriber_gets_every_event_in_order():
    bus = EventBus()
    first, second = [], []
    bus.subscribe(first.append)
    bus.subscribe(second.append)
    events = [Judged(1, 1, None), AdapterSwapped(3, 0.2)]
    for event in events:
        bus.publish(event)
    assert first == events and second == events


def test_unsubscribed_function_gets_nothing_more_and_others_still_do():
    bus = EventBus()
    kept, dropped = [], []
    bus.subscribe(kept.append)
    unsubscribe = bus.subscribe(dropped.append)
    bus.publish(Judged(1, 1, None))
    unsubscribe()
    unsubscribe()  # twice is harmless
    bus.publish(Judged(2, -1, "shorter"))
    assert [e.message_id for e in kept] == [1, 2]
    assert [e.message_id for e in dropped] == [1]
    assert len(bus) == 1


def test_the_same_function_subscribed_twice_is_called_twice_and_unsubscribed_once_each():
    bus = EventBus()
    seen = []
    off_a = bus.subscribe(seen.append)
    bus.subscribe(seen.append)
    bus.publish("x")
    off_a()
    off_a()  # again: still only its own subscription ends
    bus.publish("y")
    assert seen == ["x", "x", "y"]


def test_a_raising_subscriber_is_logged_and_neither_breaks_the_others_nor_the_publisher(caplog):
    bus = EventBus()
    before, after = [], []
    bus.subscribe(before.append)

    def broken(event):
        raise RuntimeError("the UI went away")

    bus.subscribe(broken)
    bus.subscribe(after.append)
    with caplog.at_level(logging.ERROR, logger="openclaw_local.services.events"):
        bus.publish(Judged(7, 0, None))  # does not raise
    assert before == after == [Judged(7, 0, None)]
    assert "the UI went away" in caplog.text and "Judged" in caplog.text


def test_a_subscriber_may_unsubscribe_itself_while_the_bus_publishes():
    bus = EventBus()
    seen = []
    off = None

    def once(event):
        seen.append(event)
        off()

    off = bus.subscribe(once)
    bus.subscribe(seen.append)
    bus.publish("a")
    bus.publish("b")
    assert seen == ["a", "a", "b"]


def test_publishing_from_many_threads_while_subscribing_loses_no_event():
    bus = EventBus()
    seen, lock = [], threading.Lock()

    def record(event):
        with lock:
            seen.append(event)

    bus.subscribe(record)
    threads = [threading.Thread(target=lambda k=k: [bus.publish((k, i)) for i in range(200)]) for k in range(4)]
    churn = threading.Thread(target=lambda: [bus.subscribe(lambda e: None)() for _ in range(200)])
    for t in [*threads, churn]:
        t.start()
    for t in [*threads, churn]:
        t.join()
    assert sorted(seen) == sorted((k, i) for k in range(4) for i in range(200))
    assert len(bus) == 1


def test_events_are_frozen_records():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Judged(1, 1, None).reward = -1  # type: ignore[misc]
    assert AdapterSwapped(2, 0.1) == AdapterSwapped(2, 0.1, None)
