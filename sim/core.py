"""The simulator's vectorised core: the lives of many contacts at once, as arrays.

``contact_events`` takes the creation times of N contacts and one row of
per-contact parameters each (a row of ``table``, columns ``COLS``) and returns
every event of their lives as one structured array (``EVENT_DTYPE``), unsorted.
All randomness comes from the numpy ``Generator`` passed in, drawn in a fixed
order, so the result is a pure function of the generator state and the inputs.

The per-contact life (see ``sim/simulator.py`` for what the parameters mean):

- late (the wait passes the channel target) with probability ``timeout_rate``;
  late contacts abandon with ``a_late``, on-time ones with ``a_on``;
- on-time agent wait = target x u^GAMMA x frt; bot answers 1-6 s; late wait =
  target x (1 + frt x LATE_TAIL x Exp(1)); late abandon = target x (1 + 0.4 Exp(1));
- resolution in the session (``resolve_rate``): first contact (``f1``), transferred
  (``tr``) or followed up; reopened (``reopen_rate``) and resolved again, not on
  first contact; the rest are resolved later (hours), not on first contact;
- surveys, complaints and feedback after the contact's last step; a contact that
  waited past the target gives a 4-5 CSAT score with ``csat_late``, others ``csat_on``.
"""

from __future__ import annotations

import numpy as np

from sqm.models import EventType

GAMMA = 1.6
"""On-time agent wait = target * u**GAMMA (median ~0.33 x target)."""
LATE_TAIL = 0.6
"""Mean excess wait of a late answer, in answer targets (scaled by ``frt``)."""
LATER_MEAN_S = 8 * 3600.0
"""A contact not resolved in its session is resolved 2 h + Exp(mean 8 h) after its first response."""

COLS = (
    "timeout_rate", "a_late", "a_on", "bot_share", "frt", "resolve_rate", "f1", "tr", "h_mu", "h_sigma",
    "reopen_rate", "survey_rate", "csat_on", "csat_late", "nps_rate", "nps_promoters", "nps_detractors", "complaint_rate",
    "major_share", "complaint_timely_rate", "feedback_rate", "feedback_timely_rate", "target", "n_agents",
    "n_others", "vip", "complaint_general_s", "complaint_major_s", "feedback_close_s",
)
"""Columns of the per-contact parameter table."""
COL = {name: i for i, name in enumerate(COLS)}

EVENT_DTYPE = np.dtype([("t", "f8"), ("seq", "i8"), ("kind", "i1"), ("cell", "i2"), ("tier", "i1"),
                        ("a", "f8"), ("b", "i4"), ("txt", "i4")])
"""One event: epoch seconds, ``contact_number * 16 + slot``, kind, cell, tier, payloads, text (``sim.text``; -1: none)."""

# kinds
CREATED, FR_AGENT, FR_BOT, ABANDONED, TRANSFERRED, RESOLVED_FC, RESOLVED_NOT, REOPENED = range(8)
CSAT, NPS, C_OPEN_GENERAL, C_OPEN_MAJOR, C_RESPONDED, C_RESOLVED, F_RECEIVED, F_CLOSED = range(8, 16)
TYPES: tuple[EventType, ...] = (
    "contact.created", "contact.first_response", "contact.first_response", "contact.abandoned",
    "contact.transferred", "contact.resolved", "contact.resolved", "contact.reopened", "survey.csat", "survey.nps",
    "complaint.opened", "complaint.opened", "complaint.responded", "complaint.resolved", "feedback.received",
    "feedback.closed",
)
TIERS = ("standard", "gold", "platinum", "vip")
SLOTS = 16
"""Event number within a contact = seq % SLOTS (created 0, first response/abandon 1, ...)."""


def contact_events(rng: np.random.Generator, t: np.ndarray, first_number: int, cell: np.ndarray,
                   rows: np.ndarray, table: np.ndarray) -> np.ndarray:
    """All events of the contacts created at ``t`` (numbered from ``first_number``), unsorted.

    >>> table = np.zeros((1, len(COLS))); table[0, COL["target"]] = 30; table[0, COL["n_agents"]] = 5
    >>> table[0, COL["frt"]] = 1; table[0, COL["resolve_rate"]] = 1; table[0, COL["f1"]] = 1
    >>> table[0, COL["h_mu"]] = 5; table[0, COL["n_others"]] = 1; table[0, COL["feedback_close_s"]] = 3600
    >>> ev = contact_events(np.random.default_rng(1), np.array([0.0, 10.0]), 1, np.zeros(2, int), np.zeros(2, int), table)
    >>> sorted(TYPES[k] for k in ev["kind"])
    ['contact.created', 'contact.created', 'contact.first_response', 'contact.first_response', 'contact.resolved', 'contact.resolved']
    """
    n = len(t)
    if n == 0:
        return np.empty(0, EVENT_DTYPE)
    p = table[rows].T  # (cols, n)
    c = COL
    u = rng.random((33, n))
    z = rng.standard_normal((2, n))
    target, frt = p[c["target"]], p[c["frt"]]
    n_agents = p[c["n_agents"]]

    # --- waiting: late or not, abandoned or answered (by a bot or an agent)
    late = u[0] < p[c["timeout_rate"]]
    abandoned = np.where(late, u[1] < p[c["a_late"]], u[1] < p[c["a_on"]])
    answered = ~abandoned
    bot = answered & ~late & (u[2] < p[c["bot_share"]])
    e3 = -np.log1p(-u[3])
    wait = np.select(
        [late & abandoned, late, abandoned, bot],
        [target * (1 + 0.4 * e3), target * (1 + frt * LATE_TAIL * e3), target * (0.02 + 0.977 * u[3]), 1 + 5 * u[3]],
        default=np.maximum(1.0, frt * target * u[3] ** GAMMA),
    )
    end0 = t + wait
    fr_agent = np.where(bot, -1, (u[4] * n_agents).astype(np.int32))

    # --- resolution: first contact, transferred, or followed up; maybe reopened
    resolved = answered & (u[5] < p[c["resolve_rate"]])
    handle = np.exp(p[c["h_mu"]] + p[c["h_sigma"]] * z[0])
    fcr = u[6] < p[c["f1"]]
    transfer = ~fcr & (u[6] < p[c["f1"]] + p[c["tr"]])
    tr_t = end0 + 0.4 * handle
    res_t = np.where(fcr, end0 + handle,
                     np.where(transfer, tr_t + 30 + handle, end0 + handle + 600 - 7200 * np.log1p(-u[9])))
    res_agent = np.where(bot | transfer, (u[7] * n_agents).astype(np.int32), fr_agent)
    to_team = np.floor(u[8] * p[c["n_others"]])
    reopen = resolved & (u[10] < p[c["reopen_rate"]])
    reo_t = res_t + 600 - 14400 * np.log1p(-u[11])
    handle2 = np.exp(p[c["h_mu"]] + p[c["h_sigma"]] * z[1])
    res2_t = reo_t + 120 - 1800 * np.log1p(-u[12]) + handle2
    # not resolved in the session: resolved later (a callback, a follow-up), not on first contact
    later = answered & ~resolved
    later_t = end0 + 7200 - LATER_MEAN_S * np.log1p(-u[32])
    final = np.where(resolved, np.where(reopen, res2_t, res_t), np.where(later, later_t, end0))

    # --- surveys on the final resolution
    csat_m = answered & (u[13] < p[c["survey_rate"]])
    csat_good = np.where(wait > target, p[c["csat_late"]], p[c["csat_on"]])  # a long wait costs satisfaction
    csat_score = np.where(u[14] < csat_good, np.where(u[14] < csat_good * 0.62, 5, 4), 1 + np.floor(3 * u[15]))
    csat_t = final + 5 - 600 * np.log1p(-u[19])
    nps_m = answered & (u[16] < p[c["nps_rate"]])
    prom = u[17] < p[c["nps_promoters"]]
    det = ~prom & (u[17] < p[c["nps_promoters"]] + p[c["nps_detractors"]])
    nps_score = np.where(prom, np.where(u[18] < 0.55, 10, 9),
                         np.where(det, np.minimum(6, np.floor(7 * np.sqrt(u[18]))), np.where(u[18] < 0.55, 8, 7)))
    nps_t = final + 60 - 3600 * np.log1p(-u[20])

    # --- complaints (graded) and feedback, after the contact's last step
    compl = u[21] < p[c["complaint_rate"]]
    major = u[22] < p[c["major_share"]]
    limit = np.where(major, p[c["complaint_major_s"]], p[c["complaint_general_s"]])
    op_t = final + 30 - 1800 * np.log1p(-u[23])
    timely = u[24] < p[c["complaint_timely_rate"]]
    resp = np.where(timely, limit * (0.01 + 0.989 * u[25] ** 1.3), limit * (1 - 0.5 * np.log1p(-u[25])) + 1)
    cres_t = op_t + resp + 600 - np.where(major, 7200.0, 21600.0) * np.log1p(-u[26])
    fb = u[27] < p[c["feedback_rate"]]
    fb_t = final + 60 - 3600 * np.log1p(-u[28])
    fb_limit = p[c["feedback_close_s"]]
    close = np.where(u[29] < p[c["feedback_timely_rate"]], fb_limit * (0.001 + 0.998 * u[30]),
                     fb_limit * (1 + 0.25 * u[30]) + 1)
    tier = np.where(p[c["vip"]] > 0, 3, np.where(u[31] < 0.8, 0, np.where(u[31] < 0.95, 1, 2)))

    # --- assemble: (mask, time, slot, kind, a, b) per event kind
    everyone = np.ones(n, bool)
    zeros = np.zeros(n)
    parts = (
        (everyone, t, 0, CREATED, zeros, fr_agent),
        (answered & ~bot, end0, 1, FR_AGENT, wait, fr_agent),
        (bot, end0, 1, FR_BOT, wait, fr_agent),
        (abandoned, end0, 1, ABANDONED, wait, fr_agent),
        (resolved & transfer, tr_t, 2, TRANSFERRED, to_team, fr_agent),
        (resolved & fcr, res_t, 3, RESOLVED_FC, handle, res_agent),
        (resolved & ~fcr, res_t, 3, RESOLVED_NOT, handle, res_agent),
        (later, later_t, 3, RESOLVED_NOT, handle, res_agent),
        (reopen, reo_t, 4, REOPENED, zeros, res_agent),
        (reopen, res2_t, 5, RESOLVED_NOT, handle2, res_agent),
        (csat_m, csat_t, 6, CSAT, csat_score, fr_agent),
        (nps_m, nps_t, 7, NPS, nps_score, fr_agent),
        (compl & ~major, op_t, 8, C_OPEN_GENERAL, zeros, fr_agent),
        (compl & major, op_t, 8, C_OPEN_MAJOR, zeros, fr_agent),
        (compl, op_t + resp, 9, C_RESPONDED, resp, fr_agent),
        (compl, cres_t, 10, C_RESOLVED, zeros, fr_agent),
        (fb, fb_t, 11, F_RECEIVED, zeros, fr_agent),
        (fb, fb_t + close, 12, F_CLOSED, zeros, fr_agent),
    )
    counts = [int(m.sum()) for m, *_ in parts]
    out = np.empty(sum(counts), EVENT_DTYPE)
    number = (np.arange(n, dtype=np.int64) + first_number) * SLOTS
    i = 0
    for (mask, when, slot, kind, a, b), k in zip(parts, counts, strict=True):
        seg = out[i : i + k]
        seg["t"] = when[mask]
        seg["seq"] = number[mask] + slot
        seg["kind"] = kind
        seg["cell"] = cell[mask]
        seg["tier"] = tier[mask]
        seg["a"] = a[mask]
        seg["b"] = b[mask]
        seg["txt"] = -1
        i += k
    return out
