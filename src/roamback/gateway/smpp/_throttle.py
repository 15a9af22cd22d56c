"""Per-bind submit rate: a token bucket that backs off when the peer says it is overloaded.

Operators sell binds with a contracted rate (the cap) and answer ESME_RTHROTTLED/ESME_RMSGQFUL when it is
exceeded. Retrying at the same pace just collects more throttles, so the rate halves and sending pauses on
each one (multiplicative decrease), then doubles back towards the cap each quiet interval. Time is passed in.
"""

from __future__ import annotations


class SendRate:
    def __init__(
        self, cap: float | None, *, pause: float = 1.0, recovery_interval: float = 5.0, floor: float = 1.0
    ) -> None:
        self._cap = cap
        self._rate = cap
        self._pause = pause
        self._recovery_interval = recovery_interval
        self._floor = floor
        self._tokens = self._burst()
        self._refilled_at: float | None = None
        self._paused_until = float("-inf")
        self._recover_at = float("inf")
        self._before_throttle: float = floor
        self._second_started = float("-inf")
        self._sent_this_second = 0
        self._sent_last_second = 0

    @property
    def rate(self) -> float | None:
        return self._rate

    def ready_at(self, now: float) -> float:
        """Earliest time a request may go out: ``now`` or later."""
        self._recover(now)
        ready = max(now, self._paused_until)
        if self._rate is None:
            return ready
        self._refill(now)
        if self._tokens >= 1.0:
            return ready
        return max(ready, now + (1.0 - self._tokens) / self._rate)

    def take(self, now: float) -> None:
        """Spend one token; call only when ``ready_at(now) <= now``."""
        if now - self._second_started >= 1.0:
            self._sent_last_second = self._sent_this_second if now - self._second_started < 2.0 else 0
            self._second_started, self._sent_this_second = now, 0
        self._sent_this_second += 1
        if self._rate is not None:
            self._tokens -= 1.0

    def throttled(self, now: float) -> float:
        """The peer pushed back: pause, halve the rate and return the new one."""
        current = self._rate
        if current is None:
            current = float(max(self._sent_last_second, self._sent_this_second, self._floor))
            self._before_throttle = current
        self._rate = max(self._floor, current / 2.0)
        self._tokens = min(self._tokens, self._burst())
        self._paused_until = now + self._pause
        self._recover_at = now + self._pause + self._recovery_interval
        return self._rate

    def _recover(self, now: float) -> None:
        while self._rate is not None and now >= self._recover_at:
            doubled = self._rate * 2.0
            ceiling = self._cap if self._cap is not None else self._before_throttle
            if doubled >= ceiling:
                self._rate, self._recover_at = self._cap, float("inf")
            else:
                self._rate, self._recover_at = doubled, self._recover_at + self._recovery_interval

    def _refill(self, now: float) -> None:
        assert self._rate is not None
        if self._refilled_at is not None:
            self._tokens = min(self._burst(), self._tokens + (now - self._refilled_at) * self._rate)
        self._refilled_at = now

    def _burst(self) -> float:
        """A tenth of a second's worth, so a capped bind does not fire its whole second in one write."""
        return 1.0 if self._rate is None else max(1.0, self._rate / 10.0)
