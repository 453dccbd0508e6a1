"""How long moving a guest's memory takes: Xen's pre-copy, and the offline copy, as a pure model.

Live (``xm migrate --live``): memory M MiB goes over a link of B MiB/s while the guest keeps
running and dirtying pages at D MiB/s (never more than its whole memory in one round). Round 1
sends all of M; each next round sends what the guest dirtied during the last. The rounds stop
when what is left is small (``SMALL_MIB``), when it stops shrinking, when the rounds reach Xen's
limit (29 iterations, ``MAX_ROUNDS``) or when another round would take the total sent past three
times the memory (``MAX_FACTOR``, xc_domain_save's own bound). Then stop-and-copy: the guest is
paused, the rest is sent, and it resumes on the target. The downtime is that last round plus a
small fixed resume cost (``RESUME_S``: the device model and the backends reconnecting).

Offline (``xm migrate`` without ``--live``): the guest is paused for the whole copy of M, so the
downtime is the whole transfer plus the resume cost, in one round counted as none of pre-copy.

The figures come from ``Link``: a gigabit link and a guest that dirties 2% of its memory each
second, unless the source host's profile (``migration: {bandwidth, dirty_rate}``) or the caller
says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

GIGABIT_MIB_S = 1_000_000_000 / 8 / (1024 * 1024)  # 119.2 MiB/s: a gigabit link, all of it
DIRTY_SHARE = 0.02  # of the guest's memory, dirtied each second by a busy-enough guest
SMALL_MIB = 1.0  # what is left when the rounds stop: small enough to send with the guest paused
MAX_ROUNDS = 29  # xc_domain_save's max_iters
MAX_FACTOR = 3.0  # xc_domain_save's max_factor: stop once this many times the memory is sent
RESUME_S = 0.03  # seconds to resume on the target: backends reconnect, the guest is unpaused


@dataclass(frozen=True)
class Link:
    """What the copy runs over: the link's bandwidth (MiB/s) and the guest's dirty rate (MiB/s)."""

    bandwidth: float = GIGABIT_MIB_S
    dirty_rate: float = 0.0


@dataclass(frozen=True)
class Transfer:
    """How a copy went: seconds in all and with the guest running nowhere, rounds, MiB sent."""

    total_s: float
    downtime_s: float
    rounds: int
    sent_mib: float
    round_mib: tuple[float, ...]  # what each round sent, the stop-and-copy last


def default_dirty_rate(memory_mib: float, share: float = DIRTY_SHARE) -> float:
    return memory_mib * share


def live_transfer(memory_mib: float, link: Link) -> Transfer:
    """Pre-copy: the rounds, then stop-and-copy; see the module's docstring."""
    bandwidth = _positive(link.bandwidth)
    dirty = max(link.dirty_rate, 0.0)
    sent: list[float] = []
    to_send = float(memory_mib)
    elapsed = 0.0
    while True:
        took = to_send / bandwidth
        sent.append(to_send)
        elapsed += took
        dirtied = min(dirty * took, float(memory_mib))
        if (
            dirtied <= SMALL_MIB
            or dirtied >= to_send
            or len(sent) + 1 >= MAX_ROUNDS
            or sum(sent) + dirtied > MAX_FACTOR * memory_mib
        ):
            break
        to_send = dirtied
    last = dirtied / bandwidth  # stop-and-copy: the guest is paused for it
    sent.append(dirtied)
    downtime = last + RESUME_S
    return Transfer(elapsed + downtime, downtime, len(sent), sum(sent), tuple(sent))


def offline_transfer(memory_mib: float, link: Link) -> Transfer:
    """The guest paused for the whole copy: one transfer of its memory, then the resume."""
    took = float(memory_mib) / _positive(link.bandwidth) + RESUME_S
    return Transfer(took, took, 0, float(memory_mib), (float(memory_mib),))


def _positive(bandwidth: float) -> float:
    if not bandwidth > 0:
        raise ValueError(f"a migration link's bandwidth must be more than 0 MiB/s, not {bandwidth:g}")
    return bandwidth
