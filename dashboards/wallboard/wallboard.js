// sqm wallboard: tiles per team (and overall) coloured against the targets,
// fed by /v1/kpis (initial state) and /v1/live (Server-Sent Events, read with
// fetch so that an API key can travel in a header). Plain JS, no dependencies.
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const LANG = (params.get("lang") || (navigator.language || "").toLowerCase()).startsWith("zh") ? "zh" : "en";
  const TILE_KPIS = (params.get("kpis") ||
    "volume,frt_avg_s,frt_p90_s,service_level,timeout_rate,abandon_rate,csat,backlog").split(",");
  const ALL = "*";

  const TEXT = {
    zh: {
      title: "服务质量实时看板", overall: "全部", window: "窗口", updated: "更新于",
      live: "实时", connecting: "连接中", offline: "已断开", ok: "达标", warn: "接近目标", bad: "未达标",
      target: "目标", needKey: "需要 API 密钥：在地址后加 #key=…", noData: "暂无数据",
      windows: { "1m": "1 分钟", "5m": "5 分钟", "1h": "1 小时", "60m": "近 60 分钟" },
    },
    en: {
      title: "Service quality — live", overall: "All teams", window: "Window", updated: "Updated",
      live: "Live", connecting: "Connecting", offline: "Offline", ok: "On target", warn: "Near target", bad: "Off target",
      target: "Target", needKey: "An API key is needed: add #key=… to the address", noData: "No data yet",
      windows: { "1m": "1 minute", "5m": "5 minutes", "1h": "1 hour", "60m": "last 60 minutes" },
    },
  }[LANG];

  // The key, if any: from the address fragment (#key=...), kept for this tab only.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("key")) {
    sessionStorage.setItem("sqm-key", fragment.get("key"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  addEventListener("hashchange", () => {
    const key = new URLSearchParams(location.hash.slice(1)).get("key");
    if (key) { sessionStorage.setItem("sqm-key", key); location.replace(location.pathname + location.search); }
  });
  const KEY = sessionStorage.getItem("sqm-key");
  const HEADERS = KEY ? { "X-API-Key": KEY } : {};

  const $ = (id) => document.getElementById(id);
  const state = { config: null, window: null, snaps: new Map(), tiles: new Map(), teams: [] };

  // --- formatting and colours -------------------------------------------------------
  function fmt(kpi, v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    const unit = state.config.kpis[kpi]?.unit;
    if (unit === "ratio") return (v * 100).toFixed(1) + "%";
    if (unit === "seconds") {
      if (v < 100) return v.toFixed(v < 10 ? 1 : 0) + (LANG === "zh" ? " 秒" : " s");
      const m = Math.floor(v / 60), s = Math.round(v % 60);
      if (m < 60) return m + ":" + String(s).padStart(2, "0");
      return (v / 3600).toFixed(1) + (LANG === "zh" ? " 小时" : " h");
    }
    if (unit === "score") return v.toFixed(0);
    return Math.round(v).toLocaleString(LANG === "zh" ? "zh-CN" : "en");
  }

  // ok / warn / bad against the target; "none" for a KPI without one or without a value.
  function level(kpi, v) {
    const meta = state.config.kpis[kpi];
    if (!meta || meta.target === null || meta.bad === "none" || v === null || v === undefined) return "none";
    if (meta.bad === "up") return v > meta.target ? "bad" : v > meta.warn ? "warn" : "ok";
    return v < meta.target ? "bad" : v < meta.warn ? "warn" : "ok";
  }

  function targetText(kpi) {
    const meta = state.config.kpis[kpi];
    if (!meta || meta.target === null || meta.bad === "none") return "";
    return TEXT.target + (meta.bad === "up" ? " ≤ " : " ≥ ") + fmt(kpi, meta.target);
  }

  // --- building the board -----------------------------------------------------------
  function teamLabel(name) {
    if (name === ALL) return TEXT.overall;
    const t = state.config.teams.find((x) => x.name === name);
    return (t && (LANG === "zh" ? t.display_zh || t.display : t.display || t.display_zh)) || name;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function addTeamRow(team) {
    if (state.teams.includes(team)) return;
    state.teams.push(team);
    const row = el("section", "team" + (team === ALL ? " overall" : ""));
    row.dataset.team = team;
    row.appendChild(el("h2", "team-name", teamLabel(team)));
    const tiles = el("div", "tiles");
    for (const kpi of TILE_KPIS) {
      const meta = state.config.kpis[kpi];
      if (!meta) continue;
      const tile = el("div", "tile none");
      tile.dataset.team = team;
      tile.dataset.kpi = kpi;
      tile.appendChild(el("div", "label", LANG === "zh" ? meta.zh : meta.en));
      const value = el("div", "value", "—");
      tile.appendChild(value);
      const foot = el("div", "foot");
      const n = el("span", "n", "");
      foot.appendChild(el("span", "target", targetText(kpi)));
      foot.appendChild(n);
      tile.appendChild(foot);
      tiles.appendChild(tile);
      state.tiles.set(team + "|" + kpi, { tile, value, n });
    }
    row.appendChild(tiles);
    $("board").appendChild(row);
  }

  function render(snap) {
    for (const kpi of TILE_KPIS) {
      const t = state.tiles.get(snap.team + "|" + kpi);
      if (!t) continue;
      const v = snap.kpis[kpi];
      t.value.textContent = fmt(kpi, v);
      const lv = level(kpi, v);
      t.tile.className = "tile " + lv + (snap.final === false ? " provisional" : "");
      t.tile.dataset.level = lv;
      t.tile.dataset.value = v === null || v === undefined ? "" : String(v);
      const n = snap.n[kpi];
      t.n.textContent = n !== undefined && kpi !== "volume" ? "n " + n : "";
    }
  }

  function apply(snaps) {
    let newest = false;
    for (const s of snaps) {
      if (s.window !== state.window || s.channel !== ALL || s.region !== ALL) continue;
      const prev = state.snaps.get(s.team);
      if (prev && Date.parse(prev.start) > Date.parse(s.start)) continue; // an older window arrived late
      state.snaps.set(s.team, s);
      addTeamRow(s.team);
      render(s);
      newest = true;
    }
    if (newest) {
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

  // A Server-Sent Events parser (the WHATWG rules that matter here).
  function sseParser(onEvent) {
    let buf = "", type = "message", data = [];
    return (chunk) => {
      buf += chunk;
      for (;;) {
        const i = buf.search(/[\r\n]/);
        if (i < 0 || (buf[i] === "\r" && i === buf.length - 1)) return; // wait for the rest of the line
        const line = buf.slice(0, i);
        buf = buf.slice(buf[i] === "\r" && buf[i + 1] === "\n" ? i + 2 : i + 1);
        if (line === "") {
          if (data.length) onEvent(type, data.join("\n"));
          type = "message";
          data = [];
        } else if (line[0] !== ":") {
          const c = line.indexOf(":");
          const field = c < 0 ? line : line.slice(0, c);
          let value = c < 0 ? "" : line.slice(c + 1);
          if (value[0] === " ") value = value.slice(1);
          if (field === "event") type = value;
          else if (field === "data") data.push(value);
        }
      }
    };
  }

  let backoff = 1000;
  async function connect() {
    setConn("connecting");
    try {
      apply(await getJSON("/v1/kpis?window=" + encodeURIComponent(state.window) + "&channel=*&region=*"));
      const res = await fetch("/v1/live?window=" + encodeURIComponent(state.window), {
        headers: Object.assign({ Accept: "text/event-stream" }, HEADERS), cache: "no-store",
      });
      if (!res.ok) throw new Error("live: HTTP " + res.status);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const feed = sseParser((type, data) => {
        if (type === "hello") { setConn("live"); backoff = 1000; }
        else if (type === "kpis") apply(JSON.parse(data));
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

  function tick() {
    $("clock").textContent = new Date().toLocaleTimeString(LANG === "zh" ? "zh-CN" : "en-GB");
  }

  async function start() {
    document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
    document.title = TEXT.title + " · sqm";
    $("title").textContent = TEXT.title;
    $("updated-label").textContent = TEXT.updated;
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
    for (;;) {
      try {
        state.config = await getJSON("/v1/config/public");
        break;
      } catch (err) {
        setConn("offline");
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
    state.window = params.get("window") || state.config.default_window;
    $("window-label").textContent = TEXT.window + " · " + (TEXT.windows[state.window] || state.window);
    addTeamRow(ALL);
    for (const t of state.config.teams) addTeamRow(t.name);
    connect();
  }

  start();
})();
