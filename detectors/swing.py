"""The relative swing rule: the current window vs a rolling baseline of earlier ones.

The baseline is built only from windows that do not overlap the one being scored
(a rolling 60-minute window is compared with windows that ended before it
started), so a change is never half inside its own baseline. Observations enter
the baseline when a later window starts after they ended; until then they are
*pending*, and :meth:`SwingDetector.discard_pending` drops them when an incident
starts, which keeps the incident out of the baseline.

Windows that overlap much (a rolling hour stepped every minute) are kept only
every ``1 / per_window`` of a window length (every 5 minutes for the rolling
hour): neighbours share 59 of their 60 minutes, so the pooled baseline is the
same, and the state is a fifth. ``window_size`` and ``grace_period`` still count
the windows *fed* (120 rolling hours stepped every minute = 2 hours of ends).

The score is ``min(change / swing, z / z_min)`` in the bad direction: 1 or more
means the value moved by at least ``swing`` (e.g. +20 %) *and* by at least
``z_min`` standard deviations of the noise at this ``n``. That noise is the
sampling noise of :mod:`detectors.noise` times an overdispersion factor the
detector measures on the series itself (a KPI that wanders more than its ``n``
explains, such as an average first response that mixes chat and e-mail, gets a
wider band).

>>> from detectors.swing import SwingDetector
>>> det = SwingDetector(swing=0.2, direction="up", kind="ratio", grace_period=5)
>>> for minute in range(10):
...     x = {"y": 0.10, "n": 2000, "start": 60.0 * minute, "end": 60.0 * (minute + 1)}
...     det.learn_one(x)
>>> det.score_one({"y": 0.11, "n": 2000, "start": 600.0, "end": 660.0})  # +10 %: small
0.469...
>>> det.score_one({"y": 0.14, "n": 2000, "start": 600.0, "end": 660.0})  # +40 % and 5.3 sd
1.760...
>>> det.explain_one({"y": 0.14, "n": 2000, "start": 600.0, "end": 660.0}).expected
0.1
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterator
from typing import Any, Literal

from detectors.base import Z2_CAP, Detector, Evidence, Observation, relative, running_mean
from detectors.noise import carry, inverse, scale, variance

Entry = tuple[float, float, float, float, float, float]
"""(start, end, y, n, z^2 without the rhythm when learned or -1, that minus z^2 with the rhythm, or nan)"""


class SwingDetector(Detector):
    """Relative change vs a rolling, non-overlapping baseline, scaled by measured noise.

    Parameters
    ----------
    swing
        Relative change that counts as a swing (0.2 = 20 %).
    direction
        Which way is bad: ``"up"``, ``"down"`` or ``"both"``.
    kind
        Sampling model of the KPI (:mod:`detectors.noise`): ratio, seconds, count, score.
    z_min
        Standard deviations of noise a swing must also exceed.
    window_size
        Number of windows in the baseline.
    grace_period
        Windows in the baseline before scoring starts (score 0 until then); scoring
        also waits until the baseline has settled (see ``_settled``).
    cv
        Coefficient of variation of one contact's value, for ``seconds`` KPIs.
    overdispersion
        Least multiplier of the sampling variance; the detector raises it to what it
        measures (the running mean of z^2 over the windows it learns).
    min_expected
        For ratios: score 0 while the window or the baseline expects fewer bad
        outcomes than this (2 timeouts expected, 6 seen, says little).
    per_window
        Windows kept per window length at most (overlapping windows are thinned
        to one every ``length / per_window`` seconds).

    ``z`` is computed on a variance-stabilising scale (:mod:`detectors.noise`), so
    the tails of small counts are not underestimated.
    """

    _Z2_CAP = Z2_CAP
    _HOUR_MEMORY = 36  # windows kept per window length / 12: about 3 days of one hour of the day
    _HOUR_PRIOR = 12  # as if one day of that hour had measured no overdispersion
    _RHYTHM_MARGIN = 1.0  # the rhythm is set aside at an hour where its mean z^2 was at least this much more
    # than none's, and more than twice none's (_rhythm_earns)
    _noise_from = -math.inf  # windows starting earlier teach the expected value, not the noise
    # defaults for detectors pickled before these existed (recovery snapshots of an older sqm)
    per_window = 12
    _step = 0.0
    _fed_end: float | None = None

    def __init__(
        self,
        swing: float = 0.2,
        direction: Literal["up", "down", "both"] = "up",
        kind: str = "ratio",
        z_min: float = 3.0,
        window_size: int = 30,
        grace_period: int = 15,
        cv: float = 1.0,
        overdispersion: float = 1.0,
        min_expected: float = 0.0,
        per_window: int = 12,
    ) -> None:
        self.swing = swing
        self.direction = direction
        self.kind = kind
        self.z_min = z_min
        self.window_size = window_size
        self.grace_period = grace_period
        self.cv = cv
        self.overdispersion = overdispersion
        self.min_expected = min_expected
        self.per_window = per_window
        self._step = 0.0  # the least gap between the ends of windows fed (0: not seen yet)
        self._fed_end: float | None = None
        self._base: deque[Entry] = deque()
        self._pending: deque[Entry] = deque(maxlen=4 * 1440)
        self._sums = [0.0, 0.0, 0.0]  # sum n, sum y*n (sum y for counts), sum of window lengths
        self._appends = 0
        self._warm = False
        self._z2 = 1.0  # running mean of z^2 (sampling model only)
        self._z2_n = 0

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_memo", None)  # a cache, not state
        return state

    # --- learning -------------------------------------------------------------
    def learn_one(self, x: Observation) -> None:
        y = x.get("y")
        if y is None:
            return
        start, end = float(x["start"]), float(x["end"])
        if self._fed_end is not None and end > self._fed_end:
            gap = end - self._fed_end
            self._step = gap if self._step <= 0 else min(self._step, gap)
        self._fed_end = end
        moved = False
        while self._pending and self._pending[0][1] <= start:
            self._push(self._pending.popleft())
            moved = True
        last = self._pending[-1][1] if self._pending else self._base[-1][1] if self._base else None
        if last is None or end - last >= self._stride(end - start) - 1e-6:
            measured = self._warm and start >= self._noise_from  # whether it teaches the noise
            z2, gain = -1.0, math.nan
            used = self._raw(x) if measured else None  # (as scored just before: cached)
            if used is not None:
                factor, in_use = float(x.get("rhythm") or 1.0), self.rhythm_in_use(x)
                flat = used if in_use == 1.0 else self._raw_at(x, 1.0)
                z2 = min(flat[2] ** 2, self._Z2_CAP) if flat is not None else -1.0
                if factor != 1.0 and flat is not None:
                    carried = used if in_use == factor else self._raw_at(x, factor)
                    gain = z2 - min(carried[2] ** 2, self._Z2_CAP) if carried is not None else math.nan
            self._pending.append((start, end, float(y), float(x.get("n") or 0), z2, gain))
        if moved and not self._warm and len(self._base) >= max(self._kept(self.grace_period), 2):
            self._warm = self._settled(list(self._base))

    def _stride(self, length: float) -> float:
        """Least gap between the ends of windows kept: one window length / ``per_window``."""
        return max(length, 0.0) / self.per_window if self.per_window > 0 else 0.0

    def _kept(self, windows: int) -> int:
        """How many kept windows span as long as ``windows`` windows fed."""
        if self._step <= 0 or not self._base:
            return windows
        e = self._base[-1]
        stride = self._stride(e[1] - e[0])
        return windows if stride <= self._step else max(1, math.ceil(windows * self._step / stride))

    def _push(self, e: Entry) -> None:
        # the noise measured on this window counts only now, once no incident has
        # claimed it (discard_pending drops the windows that led up to one)
        if e[4] >= 0:
            h = int(e[1] // 3600) % 24
            gain = e[5] if len(e) > 5 else math.nan
            if not math.isnan(gain):
                gains = self.__dict__.setdefault("_gain_hour", [(0.0, 0)] * 24)
                gains[h] = running_mean(gains[h], gain, self._HOUR_MEMORY)
            z2 = e[4] if math.isnan(gain) else e[4] - gain  # with the rhythm, where it speaks
            self._z2_n = min(self._z2_n + 1, 4 * self._kept(self.window_size))
            self._z2 += (z2 - self._z2) / self._z2_n
            hours = self.__dict__.setdefault("_z2_hour", [(1.0, 0)] * 24)
            hours[h] = running_mean(hours[h], e[4], self._HOUR_MEMORY)
        self._base.append(e)
        self._add(e, 1.0)
        cap = self._kept(self.window_size)
        while len(self._base) > cap:
            self._add(self._base.popleft(), -1.0)
        self._appends += 1
        if self._appends % 4096 == 0:  # wash out rounding
            self._sums = [0.0, 0.0, 0.0]
            for old in self._base:
                self._add(old, 1.0)

    def _add(self, e: Entry, sign: float) -> None:
        s = self._sums
        s[0] += sign * e[3]
        s[1] += sign * (e[2] if self.kind == "count" else e[2] * e[3])
        s[2] += sign * (e[1] - e[0])

    def skip_noise_before(self, t: float) -> None:
        """Windows that start before ``t`` still teach the expected value, but not the noise.

        They overlap an incident that just ended (or a level shift being learned): their
        distance from the baseline is the incident's, and kept in the measured noise (the
        hour-of-day memory keeps about 3 days) it would blind the detector at that hour
        on the next days.
        """
        self._noise_from = max(self._noise_from, t)

    def discard_pending(self) -> None:
        """Forget observations not yet in the baseline (they overlap a suspect window)."""
        self._pending.clear()

    @property
    def learning(self) -> bool:
        return not self._warm

    @property
    def noise_factor(self) -> float:
        """The variance multiplier in use: measured, never below ``overdispersion``."""
        k, prior = self._z2_n, self._kept(self.window_size)  # prior: as many windows as the baseline holds
        measured = (prior + k * self._z2) / (prior + k)
        return max(self.overdispersion, measured)

    def noise_at(self, end: float) -> float:
        """The variance multiplier for a window ending at ``end``: the recent one, or what this hour of the
        day showed on earlier days if more (a night whose rate swings more than its ``n`` explains)."""
        hours = self.__dict__.get("_z2_hour")
        if not hours:
            return self.noise_factor
        h = int(end // 3600) % 24
        mean, k = hours[h]  # without the rhythm; with it, less by its gain where it earns its place
        gains = self.__dict__.get("_gain_hour")
        if gains and self._rhythm_earns(h):
            mean = max(0.0, mean - gains[h][0])
        prior = self._HOUR_PRIOR
        return max(self.noise_factor, (prior + k * mean) / (prior + k))

    def _settled(self, entries: list[Entry]) -> bool:
        """Warm-up ends once the baseline's older and newer halves agree within half a swing.

        After a cold start, KPIs fed by late events (complaints, e-mail answers,
        contacts crossing a 2-hour target) climb for hours; a baseline taken from
        that climb would call its continuation an anomaly.
        """
        half = len(entries) // 2
        m1, _ = _pooled(entries[:half], self.kind)
        m2, _ = _pooled(entries[half:], self.kind)
        return abs(m2 - m1) <= self.swing / 2 * max(abs(m1), abs(m2))

    # --- scoring --------------------------------------------------------------
    def baseline(self, start: float) -> tuple[float, float] | None:
        """(expected value, its effective n) from the windows that ended by ``start``."""
        if len(self._base) < max(self._kept(self.grace_period), 1):
            return None
        s0, s1, s2 = self._sums
        count = len(self._base)
        first_end, last_end = self._base[0][1], self._base[-1][1]
        ready = [e for e in itertools.takewhile(lambda e: e[1] <= start, self._pending)]
        if ready:
            drop = max(0, count + len(ready) - self._kept(self.window_size))
            for e in itertools.islice(self._base, drop):
                s0, s1, s2 = s0 - e[3], s1 - (e[2] if self.kind == "count" else e[2] * e[3]), s2 - (e[1] - e[0])
            for e in ready:
                s0, s1, s2 = s0 + e[3], s1 + (e[2] if self.kind == "count" else e[2] * e[3]), s2 + (e[1] - e[0])
            count = count - drop + len(ready)
            first_end = self._base[drop][1] if drop < len(self._base) else ready[drop - len(self._base)][1]
            last_end = ready[-1][1]
        if self.kind == "count" or s0 <= 0:
            return (s1 / count if self.kind == "count" else 0.0), float(count)
        return s1 / s0, effective_n(s0, count, last_end - first_end, s2 / count)

    def centre(self, start: float) -> float | None:
        """The n-weighted mean time (window middles) of the baseline that scores a window starting at ``start``."""
        entries = list(self._base) + list(itertools.takewhile(lambda e: e[1] <= start, self._pending))
        entries = entries[-self._kept(self.window_size) :]
        weight = sum(e[3] for e in entries) if self.kind != "count" else 0.0
        if not entries:
            return None
        if weight <= 0:
            return sum(e[0] + e[1] for e in entries) / (2 * len(entries))
        return sum(e[3] * (e[0] + e[1]) for e in entries) / (2 * weight)

    @property
    def settled(self) -> bool:
        """Whether the baseline's older and newer halves agree now: within half a swing plus 3 sd of noise."""
        entries = list(self._base)
        if len(entries) < 4:
            return False
        half = len(entries) // 2
        m1, n1 = _pooled(entries[:half], self.kind)
        m2, n2 = _pooled(entries[half:], self.kind)
        allowed = abs(scale(self.kind, m1 * (1 + self.swing / 2)) - scale(self.kind, m1))
        noise = 3 * math.sqrt(self.noise_factor * (variance(self.kind, n1, self.cv) + variance(self.kind, n2, self.cv)))
        return abs(scale(self.kind, m2) - scale(self.kind, m1)) <= allowed + noise

    def trend(self, start: float, end: float) -> float:
        """How far the KPI moved, by the baseline's own slope, from the baseline's centre to the window's.

        The slope is that of the pooled means of the baseline's older and newer
        halves; 0 while the baseline is short. A rolling baseline lags a KPI that
        rises through the morning by about half its span; a sequential test
        against it would add that lag up to an alarm.
        """
        entries = list(self._base)
        if len(entries) < 4 or self.kind == "count":
            return 0.0
        half = len(entries) // 2
        older, newer = entries[:half], entries[half:]
        m1, _ = _pooled(older, self.kind)
        m2, _ = _pooled(newer, self.kind)
        c1 = sum(e[0] + e[1] for e in older) / (2 * len(older))
        c2 = sum(e[0] + e[1] for e in newer) / (2 * len(newer))
        if c2 <= c1:
            return 0.0
        centre = sum(e[0] + e[1] for e in entries) / (2 * len(entries))
        return (m2 - m1) / (c2 - c1) * ((start + end) / 2 - centre)

    def _raw(self, x: Observation) -> tuple[float, float, float, float] | None:
        """(expected, sd and z under the sampling model, the baseline's effective n) or None."""
        key = (x.get("start"), x.get("end"), x.get("y"), x.get("n"), x.get("rhythm"), len(self._base), self._appends,
               len(self._pending))
        memo = self.__dict__.get("_memo")
        if memo is not None and memo[0] == key:
            return memo[1]
        out = self._raw_uncached(x)
        self.__dict__["_memo"] = (key, out)  # score then learn the same x: computed once
        return out

    def _raw_uncached(self, x: Observation) -> tuple[float, float, float, float] | None:
        return self._raw_at(x, self.rhythm_in_use(x))

    def rhythm_in_use(self, x: Observation) -> float:
        """The rhythm factor ``x["rhythm"]`` where it has earned its place, else 1.

        Each window it learns, the detector measures how far it was from the baseline
        carried by the rhythm and from the bare baseline (their z^2, capped); per hour of
        the day, over about 3 days, the rhythm is set aside where it put the windows
        clearly farther (:meth:`_rhythm_earns`). A rhythm learned from a day or two
        carries its own error: where it learned an incident that does not recur (it
        learns an incident's windows once it resolves: what recurs every night is
        rhythm), it expects a rise the KPI does not make, and hid the same incident
        when it came back at that hour.
        """
        factor = float(x.get("rhythm") or 1.0)
        return factor if factor == 1.0 or self._rhythm_earns(int(float(x["end"]) // 3600) % 24) else 1.0

    def _rhythm_earns(self, hour: int) -> bool:
        """Whether the rhythm kept this hour's learned windows about as near their baseline as none did (yes
        until measured): it is set aside where its mean z^2 was more than twice, and 1 more than, none's."""
        gains, flat = self.__dict__.get("_gain_hour"), self.__dict__.get("_z2_hour")  # (both kept by _push)
        if not gains or not flat:
            return True
        return gains[hour][0] >= -max(self._RHYTHM_MARGIN, flat[hour][0])

    def _raw_at(self, x: Observation, rhythm: float) -> tuple[float, float, float, float] | None:
        base = self.baseline(float(x["start"]))
        if base is None:
            return None
        expected, n_base = base
        # the KPI's daily rhythm from the baseline's time to this window's (a ratio's on its odds)
        expected = carry(self.kind, expected, rhythm)
        n = 1.0 if self.kind == "count" else float(x.get("n") or 0)
        sd = math.sqrt(variance(self.kind, n, self.cv) + variance(self.kind, n_base, self.cv))
        return expected, sd, (scale(self.kind, float(x["y"]), n) - scale(self.kind, expected, n_base)) / sd, n_base

    def explain_one(self, x: Observation) -> Evidence | None:
        if x.get("y") is None or not self._warm:
            return None
        raw = self._raw(x)
        if raw is None:
            return None
        expected, sd, z, n_base = raw
        y = float(x["y"])
        # x["noise"]: a further variance multiplier the caller measured (a short window's burstiness)
        factor = math.sqrt(self.noise_at(float(x["end"])) * max(1.0, float(x.get("noise") or 1.0)))
        sd *= factor
        z /= factor
        g_e, g_y = scale(self.kind, expected), scale(self.kind, y)
        change = relative(y, expected)
        sure = relative(inverse(self.kind, g_y - math.copysign(2 * sd, z)), expected)
        if (sure > 0) != (change > 0):
            sure = 0.0
        lower = min(inverse(self.kind, g_e - self.z_min * sd), expected * (1 - self.swing))
        upper = max(inverse(self.kind, g_e + self.z_min * sd), expected * (1 + self.swing))
        score = self._score(change, z)
        if self.kind == "ratio" and self.min_expected > 0:
            bad = 1.0 - expected if self.direction == "down" else expected
            if min(float(x.get("n") or 0), n_base) * bad < self.min_expected:
                score = 0.0
        return Evidence(expected, lower, upper, change, sure, z, score)

    def _score(self, change: float, z: float) -> float:
        if self.direction == "down":
            change, z = -change, -z
        elif self.direction == "both":
            change, z = abs(change), abs(z)
        if change <= 0 or z <= 0:
            return 0.0
        return min(change / self.swing, z / self.z_min)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"swing": 0.2, "direction": "up", "kind": "ratio", "grace_period": 3}
        yield {"swing": 0.3, "direction": "both", "kind": "seconds", "grace_period": 3, "window_size": 5}


def _pooled(entries: list[Entry], kind: str) -> tuple[float, float]:
    """The n-weighted mean of the entries and its effective n (for counts: the number of windows)."""
    total_n = sum(e[3] for e in entries)
    if kind == "count" or total_n <= 0:
        return sum(e[2] for e in entries) / len(entries), float(len(entries))
    mean = sum(e[2] * e[3] for e in entries) / total_n
    span = entries[-1][1] - entries[0][1]
    return mean, effective_n(total_n, len(entries), span, sum(e[1] - e[0] for e in entries) / len(entries))


def effective_n(total_n: float, count: int, span: float, length: float) -> float:
    """Kish's effective n of the pooled mean of ``count`` windows of ``length`` seconds.

    Overlapping windows (a rolling 60 minutes stepped every minute) share their
    contacts: a minute inside many windows weighs more. With the windows evenly
    spread over ``span`` seconds (first end to last end), each time step carries
    a trapezoidal weight; n_eff = n per step x (sum w)^2 / sum w^2.

    >>> effective_n(12 * 100, 12, 11 * 300, 300)  # twelve 5-minute tumbling windows
    1200.0
    >>> round(effective_n(120 * 6000, 120, 119 * 60, 3600))  # 120 rolling hours, 6,000 contacts each
    14399
    """
    if count <= 1 or span <= 0 or length <= 0:
        return float(total_n)
    step = span / (count - 1)
    k = length / step  # windows covering one step
    if k <= 1.0:
        return float(total_n)
    a, b = min(float(count), k), max(float(count), k)
    sum_w = count * k
    sum_w2 = (b - a + 1) * a * a + (a - 1) * a * (2 * a - 1) / 3
    return total_n / sum_w * sum_w * sum_w / sum_w2
