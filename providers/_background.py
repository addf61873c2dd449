"""Whether throttles are evidence of a quota, or a background share that does not depend on the rate.

A quota throttles more the faster we send; a busy region, a cold model or a shared account throttles
a steady share whatever we send. Only the first is a reason to slow down: a rate limiter that cuts
on every 429 cuts for ever under a steady 10% of random ones (issue 17: 0.17 of the grant). The rate
budget (:mod:`._rate`) tells them apart by checking each cut: the answers to the first requests sent
at the new rate, below the grant, measure the background share, and a throttle is evidence of a
quota only while the share of throttled answers is clearly above it.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Background", "Check"]


class Check:
    """A cut under test: the limiter as it was before (to undo it), the throttle share that triggered
    it, and the answers so far to requests sent at the new rate."""

    __slots__ = ("answers", "before", "began", "cut_answers", "cut_throttled", "sent_from", "throttled")

    def __init__(self, before: tuple[Any, ...], window: tuple[int, int], *, began: float, sent_from: float) -> None:
        self.before, (self.cut_answers, self.cut_throttled) = before, window
        self.began, self.sent_from = began, sent_from
        self.answers = self.throttled = 0

    def fell(self, z: float) -> bool:
        """Whether the throttle share after the cut is below the one that triggered it by ``z``
        standard errors (two-proportion test)."""
        pooled = (self.cut_throttled + self.throttled) / (self.cut_answers + self.answers)
        spread = z * math.sqrt(pooled * (1 - pooled) * (1 / self.cut_answers + 1 / self.answers))
        return self.throttled / self.answers < self.cut_throttled / self.cut_answers - spread


class Background:
    """The share of answers throttled while sending below the grant, from the checks after cuts."""

    Z = 2.5
    """A window's throttle share is over the background when it exceeds it by ``Z`` standard errors
    (of the window's share and of the background's estimate): the test runs at every throttle, on
    overlapping windows, so a much lower bar cuts on noise every few seconds; 3 let the rate overshoot
    a quota by half before it saw it (with the larger checks of :class:`._rate.Budget`, 2.5 holds both)."""
    CHECK_Z = 2.0
    """The first cut holds when the throttle share fell by ``CHECK_Z`` standard errors after it."""
    MEMORY = 2000
    """Answers of past checks the share is averaged over (older ones fade: the background can change)."""

    def __init__(self) -> None:
        self.answers = self.throttled = 0

    @property
    def share(self) -> float | None:
        """None until a cut was checked."""
        return self.throttled / self.answers if self.answers else None

    def over(self, answers: int, throttled: int) -> bool:
        """Whether ``throttled`` of ``answers`` (a window) is more than the background explains;
        always true while no background is known (any throttle may be the quota)."""
        if not self.answers:
            return True
        # One throttle in a check is no background (a quota's burst edge makes one now and then):
        # with it discounted, a quota with no background is cut for at its first throttle again.
        share = max(0, self.throttled - 1) / self.answers
        spread = self.Z * math.sqrt(share * (1 - share) * (1 / answers + 1 / self.answers))
        return throttled / answers > share + spread

    def add(self, check: Check) -> bool:
        """Count a finished check; returns whether its cut should be undone: the first cut, made
        knowing no background, after which the throttle share did not clearly fall (so the
        throttles may well be background; a quota then shows as a share clearly over the background
        just measured, and the next throttle cuts for it)."""
        first = not self.answers
        self.answers += check.answers
        self.throttled += check.throttled
        if self.answers > self.MEMORY:
            self.answers //= 2
            self.throttled //= 2
        return first and not check.fell(self.CHECK_Z)
