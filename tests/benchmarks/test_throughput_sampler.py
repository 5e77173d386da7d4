"""The benchmark's split of timed replies into those that waited for a disk stall and the rest."""

from benchmarks.throughput.sampler import RECOVERY_SECONDS, replies_outside


def test_a_reply_overlapping_a_stall_or_its_recovery_is_left_out():
    stalls = [(10.0, 0.2)]  # a stall met by the probe's write at t=10.0, lasting 200 ms
    replies = [
        (5.0, 0.004),  # long before
        (9.99, 0.25),  # in flight when the stall began
        (10.1, 0.15),  # sent during it
        (10.2 + RECOVERY_SECONDS - 0.1, 0.003),  # while the queue it built drains
        (10.2 + RECOVERY_SECONDS + 0.1, 0.005),  # after that
    ]
    assert replies_outside(replies, stalls) == [0.004, 0.005]


def test_the_probe_interval_widens_a_stall_backwards():
    # The probe writes every 50 ms: a stall it met at t=10.0 may have begun just after t=9.95.
    replies = [(9.96, 0.03)]
    assert replies_outside(replies, [(10.0, 0.1)]) == [0.03]
    assert replies_outside(replies, [(10.0, 0.1)], before=0.05) == []


def test_without_stalls_every_reply_counts():
    replies = [(1.0, 0.002), (2.0, 0.040)]
    assert replies_outside(replies, []) == [0.002, 0.040]
