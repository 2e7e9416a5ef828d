// sqm wallboard: a row of tiles per team (or, with ?by=channel, per channel) plus the
// whole center, coloured against the targets,
// fed by /v1/kpis (initial state) and /v1/live (Server-Sent Events, read with
// fetch so that an API key can travel in a header). Plain JS, no dependencies; common.js,
// format.js (values), spark.js (sparklines) and sse.js (the event-stream parser) load first.
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const LANG = (params.get("lang") || (navigator.language || "").toLowerCase()).startsWith("zh") ? "zh" : "en";
  const TILE_KPIS = (params.get("kpis") ||
    "volume,frt_avg_s,frt_p90_s,service_level,timeout_rate,abandon_rate,csat,backlog").split(",");
  const ALL = "*";
  const VIEW = params.get("by") === "channel" ? "channel" : "team";
  const FOCUS = params.get("team") || ALL; // the team whose channels ?by=channel shows (* = everyone)
  const ONLY = params.get("teams") ? new Set(params.get("teams").split(",")) : null; // ?teams=billing,tech
  const FRT = ["frt_avg_s", "frt_p50_s", "frt_p90_s"];
  const PER_CHANNEL = { perChannel: true };
  // Tile labels short enough for a tile; the full names are in the tooltip.
  const SHORT = {
    zh: { frt_avg_s: "平均首响", frt_p50_s: "首响中位数", frt_p90_s: "首响 P90", complaint_timely_rate: "投诉及时率",
          aht_s: "平均处理时长", fcr_rate: "一次解决率" },
    en: { volume: "Contacts", frt_avg_s: "Response avg", frt_p50_s: "Response p50", frt_p90_s: "Response p90",
          fcr_rate: "First-contact res.", aht_s: "Handle time", complaint_timely_rate: "Complaints in time" },
  };

  const TEXT = {
    zh: {
      title: "服务质量实时看板", overall: "全部", window: "窗口", updated: "更新于", asof: "数据截至",
      live: "实时", connecting: "连接中", offline: "已断开", ok: "达标", warn: "接近目标", bad: "未达标",
      target: "目标", perChannel: "目标按渠道", needKey: "需要 API 密钥：在地址后加 #key=…", noData: "暂无数据",
      windows: { "1m": "1 分钟", "5m": "5 分钟", "1h": "1 小时", "60m": "近 60 分钟" },
      alerts: "告警", baseline: "基线", acked: "已确认", severity: { critical: "严重", warning: "警告", info: "提示" },
      byChannel: "按渠道", stale: "数据未更新",
    },
    en: {
      title: "Service quality — live", overall: "All teams", window: "Window", updated: "Updated", asof: "Data to",
      live: "Live", connecting: "Connecting", offline: "Offline", ok: "On target", warn: "Near target", bad: "Off target",
      target: "Target", perChannel: "Target per channel", needKey: "An API key is needed: add #key=… to the address", noData: "No data yet",
      windows: { "1m": "1 minute", "5m": "5 minutes", "1h": "1 hour", "60m": "last 60 minutes" },
      alerts: "Alerts", baseline: "baseline", acked: "acknowledged", severity: { critical: "Critical", warning: "Warning", info: "Info" },
      byChannel: "by channel", stale: "no new data",
    },
  }[LANG];

  const KEY = sqm.takeKey();  // common.js: from #key=..., kept for this tab only
  const HEADERS = KEY ? { "X-API-Key": KEY } : {};

  const $ = (id) => document.getElementById(id);
  const state = { config: null, window: null, snaps: new Map(), tiles: new Map(), rows: [], history: new Map(),
    lastUpdate: 0 };
  const WINDOW_S = { "1m": 60, "5m": 300, "1h": 3600, "60m": 60 };
  const SPARK_POINTS = 30;
  const SVG = "http://www.w3.org/2000/svg";

  // --- formatting and colours -------------------------------------------------------
  // format.js: the rules sqm/formatting.py writes values by in alerts and reasons
  const fmt = (kpi, v, alongside) => sqm.format.value(kpi, v, LANG, alongside);

  // The target of a KPI on a row: a channel's answer target for its response times, else the standard.
  function goal(kpi, row) {
    const meta = state.config.kpis[kpi];
    if (!meta || meta.bad === "none") return null;
    if (FRT.includes(kpi)) {
      if (VIEW === "channel" && row !== ALL) {
        const ch = state.config.channels.find((c) => c.name === row);
        if (ch) return { target: ch.answer_target_s, warn: ch.answer_target_s * (1 - state.config.warn_margin), bad: "up" };
      }
      // A row that mixes channels with different answer targets (chat's 30 s, e-mail's hours) has no one
      // response-time target: an average is dominated by the slowest channel. Service level and timeout
      // rate carry the colour there; the channel view colours each channel's response times.
      const targets = new Set(state.config.channels.map((c) => c.answer_target_s));
      if (targets.size > 1) return PER_CHANNEL;
    }
    return meta.target === null ? null : { target: meta.target, warn: meta.warn, bad: meta.bad };
  }

  // ok / warn / bad against the target; "none" for a KPI without one or without a value.
  function level(kpi, v, row) {
    const g = goal(kpi, row);
    if (!g || g === PER_CHANNEL || v === null || v === undefined) return "none";
    if (g.bad === "up") return v > g.target ? "bad" : v > g.warn ? "warn" : "ok";
    return v < g.target ? "bad" : v < g.warn ? "warn" : "ok";
  }

  function targetText(kpi, row) {
    const g = goal(kpi, row);
    if (!g) return "";
    if (g === PER_CHANNEL) return TEXT.perChannel;
    return TEXT.target + (g.bad === "up" ? " ≤ " : " ≥ ") + fmt(kpi, g.target);
  }

  // --- building the board -----------------------------------------------------------
  function display(list, name) {
    const t = list.find((x) => x.name === name);
    return (t && (LANG === "zh" ? t.display_zh || t.display : t.display || t.display_zh)) || name;
  }
  const teamLabel = (name) => (name === ALL ? TEXT.overall : display(state.config.teams, name));
  const channelLabel = (name) => (name === ALL ? TEXT.overall : display(state.config.channels, name));

  // Which row a snapshot belongs to (null: not shown), its label and its dimensions.
  function rowOf(s) {
    if (s.window !== state.window || s.region !== ALL) return null;
    if (VIEW === "team") return s.channel === ALL && (s.team === ALL || !ONLY || ONLY.has(s.team)) ? s.team : null;
    return s.team === FOCUS ? s.channel : null;
  }
  function rowLabel(row) {
    if (VIEW === "team") return teamLabel(row);
    return row === ALL ? teamLabel(FOCUS) : channelLabel(row);
  }
  const rowDims = (row) => (VIEW === "team" ? { team: row, channel: ALL } : { team: FOCUS, channel: row });

  const el = sqm.el;

  function addRow(id) {
    if (state.rows.includes(id)) return;
    state.rows.push(id);
    const dims = rowDims(id);
    const row = el("section", "team" + (id === ALL ? " overall" : ""));
    row.dataset.team = dims.team;
    row.dataset.channel = dims.channel;
    const name = el("h2", "team-name");
    // a team's name opens its channels; in a channel view the top row leads back to the teams
    const link = el("a", "", rowLabel(id));
    const q = new URLSearchParams(location.search);
    if (VIEW === "team" && id !== ALL) { q.set("by", "channel"); q.set("team", id); }
    else if (VIEW === "channel" && id === ALL) { q.delete("by"); q.delete("team"); }
    else if (VIEW === "team") { q.set("by", "channel"); q.delete("team"); }
    link.href = "?" + q.toString();
    name.appendChild(link);
    row.appendChild(name);
    const tiles = el("div", "tiles");
    for (const kpi of TILE_KPIS) {
      const meta = state.config.kpis[kpi];
      if (!meta) continue;
      const tile = el("div", "tile none");
      tile.setAttribute("role", "group");
      tile.dataset.team = dims.team;
      tile.dataset.channel = dims.channel;
      tile.dataset.kpi = kpi;
      const label = el("div", "label", SHORT[LANG][kpi] || (LANG === "zh" ? meta.zh : meta.en));
      label.title = LANG === "zh" ? meta.zh : meta.en;
      tile.appendChild(label);
      const badge = el("span", "badge", "");
      tile.firstChild.appendChild(badge);
      const value = el("div", "value", "—");
      tile.appendChild(value);
      const spark = document.createElementNS(SVG, "svg");
      spark.setAttribute("class", "spark");
      spark.setAttribute("viewBox", "0 0 100 24");
      spark.setAttribute("preserveAspectRatio", "none");
      tile.appendChild(spark);
      const foot = el("div", "foot");
      const n = el("span", "n", "");
      foot.appendChild(el("span", "target", targetText(kpi, id)));
      foot.appendChild(n);
      tile.appendChild(foot);
      tiles.appendChild(tile);
      state.tiles.set(id + "|" + kpi, { tile, value, n, spark, badge });
    }
    row.appendChild(tiles);
    $("board").appendChild(row);
  }

  function render(row, snap) {
    for (const kpi of TILE_KPIS) {
      const t = state.tiles.get(row + "|" + kpi);
      if (!t) continue;
      const v = snap.kpis[kpi];
      t.value.textContent = fmt(kpi, v);
      const lv = level(kpi, v, row);
      t.tile.className = "tile " + lv + (snap.final === false ? " provisional" : "");
      t.tile.dataset.level = lv;
      // for screen readers and colour-blind viewers: the state in words, not only in colour
      t.tile.setAttribute("aria-label", t.tile.firstChild.title + ": " + t.value.textContent +
        (lv === "none" ? "" : " — " + TEXT[lv]) + (t.tile.querySelector(".target").textContent ? ", " +
        t.tile.querySelector(".target").textContent : ""));
      t.tile.dataset.value = v === null || v === undefined ? "" : String(v);
      const n = snap.n[kpi];
      t.n.textContent = n !== undefined && state.config.kpis[kpi].unit !== "count" ? "n " + n : "";
      drawSpark(t.spark, kpi, row, state.history.get(row) || []);
    }
  }

  // --- history sparklines -----------------------------------------------------------
  function remember(row, s) {
    const points = state.history.get(row) || [];
    const t = Date.parse(s.start);
    const i = points.findIndex((p) => p.t === t);
    if (i >= 0) points[i] = { t, kpis: s.kpis };
    else {
      points.push({ t, kpis: s.kpis });
      points.sort((a, b) => a.t - b.t);
      if (points.length > SPARK_POINTS) points.splice(0, points.length - SPARK_POINTS);
    }
    state.history.set(row, points);
  }

  function drawSpark(svg, kpi, row, points) {
    const g = goal(kpi, row);
    const vals = points.map((p) => ({ t: p.t, v: p.kpis[kpi] })).filter((p) => p.v !== null && p.v !== undefined);
    sqm.spark(svg, vals, g ? g.target : null);
  }

  async function loadHistory(row, latest) {
    const len = (WINDOW_S[state.window] || 60) * 1000;
    const until = new Date(Date.parse(latest.start) + len);
    const since = new Date(Date.parse(latest.start) - SPARK_POINTS * len);
    const q = new URLSearchParams({ window: state.window, ...rowDims(row), region: ALL,
      since: since.toISOString(), until: until.toISOString(), limit: String(SPARK_POINTS) });
    try {
      const h = await getJSON("/v1/kpis/history?" + q.toString());
      for (const p of h.points) remember(row, p);
      const now = state.snaps.get(row);
      if (now) render(row, now);
    } catch (err) {
      console.warn("sqm wallboard: history", err);
    }
  }

  function apply(snaps) {
    let newest = false;
    for (const s of snaps) {
      const row = rowOf(s);
      if (row === null) continue;
      const prev = state.snaps.get(row);
      if (prev && Date.parse(prev.start) > Date.parse(s.start)) continue; // an older window arrived late
      state.snaps.set(row, s);
      addRow(row);
      remember(row, s);
      render(row, s);
      newest = true;
    }
    if (newest) {
      state.lastUpdate = Date.now();
      // the end of the newest window, in the site's time zone (event time: a replay or the demo runs ahead)
      const ends = [...state.snaps.values()].map((x) => Date.parse(x.end));
      const end = new Date(Math.max(...ends));
      try {
        $("asof").textContent = new Intl.DateTimeFormat(LANG === "zh" ? "zh-CN" : "en-GB", {
          timeZone: state.config.timezone, hour: "2-digit", minute: "2-digit", hour12: false }).format(end);
      } catch (err) {
        $("asof").textContent = end.toISOString().slice(11, 16) + "Z";
      }
      $("asof").dateTime = end.toISOString();
      $("updated").textContent = new Date().toLocaleTimeString(LANG === "zh" ? "zh-CN" : "en-GB");
      $("updated").dateTime = new Date().toISOString();
      $("message").textContent = "";
    }
  }

  // --- connection ---------------------------------------------------------------
  function setConn(s) {
    const c = $("conn");
    c.className = "conn " + s;
    c.dataset.state = s;
    $("conn-text").textContent = TEXT[s];
  }

  async function getJSON(path) {
    const res = await fetch(path, { headers: HEADERS, cache: "no-store" });
    if (res.status === 401 || res.status === 403) {
      $("message").textContent = TEXT.needKey;
      throw new Error("unauthorized");
    }
    if (!res.ok) throw new Error(path + ": HTTP " + res.status);
    return res.json();
  }

  let backoff = 1000;
  async function connect() {
    setConn("connecting");
    try {
      const q = new URLSearchParams({ window: state.window, region: ALL });
      if (VIEW === "team") q.set("channel", ALL);
      else q.set("team", FOCUS);
      const initial = await getJSON("/v1/kpis?" + q.toString());
      apply(initial);
      for (const s of initial) { const row = rowOf(s); if (row !== null) loadHistory(row, s); }
      pollAlerts();
      const res = await fetch("/v1/live?" + q.toString(), {
        headers: Object.assign({ Accept: "text/event-stream" }, HEADERS), cache: "no-store",
      });
      if (!res.ok) throw new Error("live: HTTP " + res.status);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const feed = sqm.sseParser((type, data) => {
        if (type === "hello") { setConn("live"); backoff = 1000; }
        else if (type === "kpis") apply(JSON.parse(data));
        else if (type === "alerts") pollAlerts();
      });
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        feed(value);
      }
    } catch (err) {
      console.warn("sqm wallboard:", err);
    }
    setConn("offline");
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 30000);
  }

  // --- alerts banner ------------------------------------------------------------------
  let alertsAllowed = true;
  async function pollAlerts() {
    if (!alertsAllowed) return;
    let rows;
    try {
      const res = await fetch("/v1/alerts/wallboard", { headers: HEADERS, cache: "no-store" });
      if (res.status === 401 || res.status === 403 || res.status === 404) { alertsAllowed = false; return; }
      if (!res.ok) return;
      rows = await res.json();
    } catch (err) {
      return;
    }
    const box = $("alerts");
    while (box.firstChild) box.removeChild(box.firstChild);
    for (const t of state.tiles.values()) { t.badge.textContent = ""; t.badge.dataset.severity = ""; }
    if (!rows.length) { box.hidden = true; return; }
    const list = el("ul");
    for (const a of rows.slice(0, 8)) {
      const meta = state.config.kpis[a.kpi];
      const name = meta ? (LANG === "zh" ? meta.zh : meta.en) : a.kpi;
      const where = [teamLabel(a.team), channelLabel(a.channel), a.region]
        .filter((d, i) => [a.team, a.channel, a.region][i] !== ALL).join(" · ") || TEXT.overall;
      const li = el("li", "alert " + a.severity + (a.state === "acknowledged" ? " acked" : ""));
      li.dataset.fingerprint = a.fingerprint;
      li.appendChild(el("strong", "sev", (TEXT.severity[a.severity] || a.severity) + " "));
      let text = where + " · " + name + " " + fmt(a.kpi, a.value, [a.expected]);
      if (a.expected !== null) text += " (" + TEXT.baseline + " " + fmt(a.kpi, a.expected, [a.value]) + ")";
      li.appendChild(el("span", "", text));
      if (a.state === "acknowledged") li.appendChild(el("span", "ack", " · " + TEXT.acked));
      list.appendChild(li);
      const row = a.region !== ALL ? null : VIEW === "team" ? (a.channel === ALL ? a.team : null)
        : (a.team === FOCUS ? a.channel : null);
      const t = row === null ? null : state.tiles.get(row + "|" + a.kpi);
      if (t) { t.badge.textContent = "▲"; t.badge.dataset.severity = a.severity; }
    }
    box.appendChild(list);
    box.className = "alerts " + (rows.some((a) => a.severity === "critical" && a.state === "firing") ? "critical" : "warning");
    box.hidden = false;
  }

  function tick() {
    $("clock").textContent = new Date().toLocaleTimeString(LANG === "zh" ? "zh-CN" : "en-GB");
    // Snapshots come every minute (every window length for 5m/1h): say so when they stop coming.
    const staleMs = 3 * Math.max(60, state.window === "60m" ? 60 : WINDOW_S[state.window] || 60) * 1000;
    const stale = state.lastUpdate > 0 && Date.now() - state.lastUpdate > staleMs;
    const up = $("updated");
    up.dataset.stale = stale ? "true" : "false";
    up.title = stale ? TEXT.stale : "";
  }

  async function start() {
    document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
    document.title = TEXT.title + " · sqm";
    $("title").textContent = TEXT.title;
    $("updated-label").textContent = TEXT.updated;
    $("asof-label").textContent = TEXT.asof;
    $("legend-ok").textContent = TEXT.ok;
    $("legend-warn").textContent = TEXT.warn;
    $("legend-bad").textContent = TEXT.bad;
    $("lang-" + LANG).classList.add("current");
    for (const l of ["zh", "en"]) {
      const p = new URLSearchParams(location.search);
      p.set("lang", l);
      $("lang-" + l).href = "?" + p.toString();
    }
    setConn("connecting");
    tick();
    setInterval(tick, 1000);
    setInterval(pollAlerts, 15000);
    for (;;) {
      try {
        state.config = await getJSON("/v1/config/public");
        sqm.format.use(state.config.kpis);
        break;
      } catch (err) {
        setConn("offline");
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
    state.window = params.get("window") || state.config.default_window;
    $("window-label").textContent = TEXT.window + " · " + (TEXT.windows[state.window] || state.window) +
      (VIEW === "channel" ? " · " + TEXT.byChannel + (FOCUS !== ALL ? " · " + teamLabel(FOCUS) : "") : "");
    addRow(ALL);
    for (const x of VIEW === "team" ? state.config.teams : state.config.channels) {
      if (VIEW === "channel" || !ONLY || ONLY.has(x.name)) addRow(x.name);
    }
    connect();
  }

  start();
})();
