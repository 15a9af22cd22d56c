"""Turns figures into alarms: link and peer state changes, and thresholds crossed on the windows.

Each condition alarms once when it starts and once when it ends (an edge, not a level), so a manager is
not flooded with the same trap every poll. A link first seen down alarms at once: an operator starting
the service wants to hear that the SMSC bind never came up. The ratios alarm only over ``min_samples``
requests in the window, so a quiet night with three failed calls does not page anyone.
"""

from __future__ import annotations

from .figures import Alarm, AlarmKind, OpsFigures
from .settings import SnmpThresholds


class Watch:
    def __init__(self, figures: OpsFigures, thresholds: SnmpThresholds) -> None:
        self._figures = figures
        self._thresholds = thresholds
        self._link_up: dict[tuple[str, str], bool] = {}
        self._asr_low = False
        self._refusals_high = False

    def check(self) -> list[Alarm]:
        """Publish (and return) the alarms whose condition changed since the last check."""
        alarms = [*self._links(), *self._ratios()]
        for alarm in alarms:
            self._figures.publish(alarm)
        return alarms

    def _links(self) -> list[Alarm]:
        alarms = []
        for link in self._figures.links:
            key = (link.kind, link.name)
            up = link.up()
            before = self._link_up.get(key, True)
            self._link_up[key] = up
            if up == before:
                continue
            if link.is_diameter:
                kind = AlarmKind.PEER_UP if up else AlarmKind.PEER_DOWN
            else:
                kind = AlarmKind.LINK_UP if up else AlarmKind.LINK_DOWN
            alarms.append(Alarm(kind, link.name, detail=link.kind))
        return alarms

    def _ratios(self) -> list[Alarm]:
        t, f = self._thresholds, self._figures
        alarms = []
        if t.asr_below is not None:
            asr = f.asr()
            low = f.calls.count >= t.min_samples and asr < t.asr_below
            if low != self._asr_low:
                self._asr_low = low
                alarms.append(Alarm(AlarmKind.ASR_LOW if low else AlarmKind.ASR_NORMAL, "asr", value=asr))
        if t.refusal_rate_above is not None:
            rate = f.refusal_rate()
            high = f.decisions.count >= t.min_samples and rate > t.refusal_rate_above
            if high != self._refusals_high:
                self._refusals_high = high
                kind = AlarmKind.REFUSAL_RATE_HIGH if high else AlarmKind.REFUSAL_RATE_NORMAL
                alarms.append(Alarm(kind, "refusal_rate", value=rate))
        return alarms
