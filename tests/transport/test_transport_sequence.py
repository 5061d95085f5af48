"""Gap counting: received + gaps + joined_at equals what the senders sent, whatever was lost."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evstream.transport.sequence import SequenceTracker


def test_gaps_and_join_are_counted_exactly():
    tracker = SequenceTracker()
    for seq in (4, 5, 8, 9):  # joined at 4, lost 6 and 7
        assert tracker.packet("cam", "s1", seq)
    tracker.end("cam", "s1", 12)  # 10 and 11 lost at the tail
    counts = tracker.streams()["cam"]
    assert (counts.received, counts.gaps, counts.joined_at, counts.sent) == (4, 4, 4, 12)


def test_duplicates_are_not_delivered():
    tracker = SequenceTracker()
    assert tracker.packet("cam", "s1", 0)
    assert tracker.packet("cam", "s1", 1)
    assert not tracker.packet("cam", "s1", 1)
    assert tracker.totals()["out_of_order"] == 1 and tracker.totals()["received"] == 2


def test_sender_restart_counts_the_packets_it_missed():
    tracker = SequenceTracker()
    for seq in range(5):
        tracker.packet("cam", "old", seq)
    for seq in (2, 3):  # the restarted sender's packets 0 and 1 went by before the reconnect
        tracker.packet("cam", "new", seq)
    tracker.end("cam", "new", 4)
    assert tracker.totals() == {"received": 7, "gaps": 2, "joined_at": 0, "restarts": 1, "out_of_order": 0}


def test_streams_are_counted_separately():
    tracker = SequenceTracker()
    tracker.packet("a", "s", 0)
    tracker.packet("b", "t", 3)
    tracker.packet("a", "s", 2)
    assert tracker.as_dict()["a"]["gaps"] == 1 and tracker.as_dict()["b"]["joined_at"] == 3


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.lists(st.booleans(), max_size=40)), min_size=1, max_size=4))
def test_received_plus_lost_equals_sent_over_sessions(sessions):
    """Each session sends ``n`` packets of which a random subset arrives, then its end of stream."""
    tracker = SequenceTracker()
    sent = 0
    for index, (n, keep) in enumerate(sessions):
        for seq in range(n):
            if seq < len(keep) and keep[seq]:
                tracker.packet("cam", f"s{index}", seq)
        tracker.end("cam", f"s{index}", n)
        sent += n
    totals = tracker.totals()
    arrived = sum(sum(keep[:n]) for n, keep in sessions)
    assert totals["received"] == arrived
    assert totals["received"] + totals["gaps"] + totals["joined_at"] == sent
    assert totals["restarts"] == len(sessions) - 1
