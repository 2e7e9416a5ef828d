// sqm supervisor console: open alerts (acknowledge, silence), silences (expire) and
// notification delivery. Needs a supervisor key (#key=… or the form), sent as X-API-Key.
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const LANG = (params.get("lang") || (navigator.language || "").toLowerCase()).startsWith("zh") ? "zh" : "en";
  const ALL = "*";
  const TEXT = {
    zh: {
      title: "告警处理台", wallboard: "看板", key: "API 密钥", ok: "确定", alerts: "当前告警", silences: "静默",
      notifications: "通知投递", noAlerts: "没有未解决的告警", noSilences: "没有生效的静默", noNotifications: "还没有通知",
      cols: { sev: "级别", where: "团队 · 渠道", kpi: "指标", value: "当前值", baseline: "基线", since: "开始", state: "状态",
              actions: "", matchers: "匹配", until: "截止", by: "创建人", comment: "备注", receiver: "接收方",
              channel: "通道", status: "状态", attempts: "尝试", title: "标题", created: "时间" },
      ack: "确认", silence1h: "静默 1 小时", silenced: "已静默", expire: "解除", needKey: "需要主管（supervisor）密钥",
      forbidden: "此密钥无权操作（需要 supervisor）", done: "已完成", failed: "操作失败",
      states: { pending: "待定", firing: "告警中", acknowledged: "已确认", resolved: "已恢复" },
      severity: { critical: "严重", warning: "警告", info: "提示" }, overall: "全部",
    },
    en: {
      title: "Alert console", wallboard: "Wallboard", key: "API key", ok: "OK", alerts: "Open alerts", silences: "Silences",
      notifications: "Notifications", noAlerts: "No open alerts", noSilences: "No active silences", noNotifications: "No notifications yet",
      cols: { sev: "Severity", where: "Team · channel", kpi: "KPI", value: "Value", baseline: "Baseline", since: "Since",
              state: "State", actions: "", matchers: "Matchers", until: "Until", by: "By", comment: "Comment",
              receiver: "Receiver", channel: "Channel", status: "Status", attempts: "Attempts", title: "Title", created: "Time" },
      ack: "Acknowledge", silence1h: "Silence 1 h", silenced: "silenced", expire: "Expire", needKey: "A supervisor key is needed",
      forbidden: "This key may not do that (supervisor needed)", done: "Done", failed: "Failed",
      states: { pending: "pending", firing: "firing", acknowledged: "acknowledged", resolved: "resolved" },
      severity: { critical: "critical", warning: "warning", info: "info" }, overall: "All",
    },
  }[LANG];

  let KEY = sqm.takeKey();  // common.js: from #key=..., kept for this tab only
  const $ = (id) => document.getElementById(id);
  const state = { config: null };

  const el = sqm.el;

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (KEY) headers["X-API-Key"] = KEY;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401) { askKey(TEXT.needKey); throw new Error("401"); }
    if (res.status === 403) { $("message").textContent = TEXT.forbidden; throw new Error("403"); }
    if (!res.ok) throw new Error(path + ": HTTP " + res.status);
    return res.json();
  }

  function askKey(why) {
    $("key-form").hidden = false;
    $("message").textContent = why;
  }

  function label(list, name) {
    if (name === ALL) return TEXT.overall;
    const t = (list || []).find((x) => x.name === name);
    return (t && (LANG === "zh" ? t.display_zh || t.display : t.display || t.display_zh)) || name;
  }

  function kpiName(k) {
    const m = state.config && state.config.kpis[k];
    return m ? (LANG === "zh" ? m.zh : m.en) : k;
  }

  // format.js: the rules sqm/formatting.py writes values by in alerts and reasons
  const fmt = (kpi, v, alongside) => sqm.format.value(kpi, v, LANG, alongside);

  const when = (iso) => (iso ? new Date(iso).toLocaleString(LANG === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "—");

  function table(id, cols, rows, emptyText) {
    const t = $(id);
    const head = t.tHead.rows[0];
    head.replaceChildren(...cols.map((c) => el("th", "", TEXT.cols[c])));
    t.tBodies[0].replaceChildren(...rows);
    $(id + "-empty").hidden = rows.length > 0;
    $(id + "-empty").textContent = emptyText;
  }

  function button(text, cls, onClick) {
    const b = el("button", cls, text);
    b.type = "button";
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await onClick();
        $("message").textContent = TEXT.done;
      } catch (err) {
        if (!String(err.message).match(/^40[13]$/)) $("message").textContent = TEXT.failed + ": " + err.message;
      }
      refresh();
    });
    return b;
  }

  function cells(tr, values) {
    for (const [text, cls] of values) tr.appendChild(el("td", cls || "", text));
    return tr;
  }

  async function loadAlerts() {
    const alerts = await api("GET", "/v1/alerts?active=true&limit=200");
    const rows = alerts.map((a) => {
      const an = a.anomaly;
      const tr = el("tr", an.severity + " " + a.state);
      tr.dataset.fingerprint = a.fingerprint;
      cells(tr, [
        [TEXT.severity[an.severity] || an.severity],
        [[label(state.config.teams, an.team), an.channel !== ALL ? label(state.config.channels, an.channel) : null,
          an.region !== ALL ? an.region : null].filter((x) => x !== null).join(" · ")],
        [kpiName(an.kpi)],
        [fmt(an.kpi, an.value, [an.expected]), "num"],
        [fmt(an.kpi, an.expected, [an.value]), "num"],
        [when(a.started_at)],
        [(TEXT.states[a.state] || a.state) + (a.acked_by ? " · " + a.acked_by : "") +
          ((a.silenced_by || []).length ? " · " + TEXT.silenced : "")],
      ]);
      const td = el("td", "actions");
      const ack = button(TEXT.ack, "primary ack", () => api("POST", "/v1/alerts/" + encodeURIComponent(a.fingerprint) + "/ack", {}));
      ack.disabled = a.state !== "firing";
      td.appendChild(ack);
      const matchers = ["team", "channel", "region", "kpi"].map((k) => k + '="' + (a.labels[k] ?? an[k]) + '"');
      td.appendChild(button(TEXT.silence1h, "silence", () => api("POST", "/v1/silences", {
        matchers, duration_s: 3600, comment: "console: " + kpiName(an.kpi),
      })));
      tr.appendChild(td);
      return tr;
    });
    table("alerts", ["sev", "where", "kpi", "value", "baseline", "since", "state", "actions"], rows, TEXT.noAlerts);
  }

  async function loadSilences() {
    const silences = await api("GET", "/v1/silences");
    const rows = silences.map((s) => {
      const tr = cells(el("tr"), [[s.matchers.join(", ")], [when(s.ends_at)], [s.created_by], [s.comment]]);
      tr.dataset.silence = s.id;
      const td = el("td", "actions");
      td.appendChild(button(TEXT.expire, "expire", () => api("DELETE", "/v1/silences/" + encodeURIComponent(s.id))));
      tr.appendChild(td);
      return tr;
    });
    table("silences", ["matchers", "until", "by", "comment", "actions"], rows, TEXT.noSilences);
  }

  async function loadNotifications() {
    const ns = await api("GET", "/v1/notifications?limit=30");
    const rows = ns.map((n) => cells(el("tr"), [
      [when(n.created_at)], [n.receiver], [n.channel], [n.status, "status-" + n.status], [String((n.attempts || []).length), "num"],
      [n.title || ""],
    ]));
    table("notifications", ["created", "receiver", "channel", "status", "attempts", "title"], rows, TEXT.noNotifications);
  }

  async function refresh() {
    try {
      const me = await api("GET", "/v1/config/whoami");
      $("who").textContent = me.name + (me.role ? " · " + me.role : "");
      await loadAlerts();
      await loadSilences();
      await loadNotifications();
      $("key-form").hidden = true;
    } catch (err) {
      console.warn("sqm console:", err);
    }
  }

  async function start() {
    document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
    document.title = TEXT.title + " · sqm";
    $("title").textContent = TEXT.title;
    $("to-wallboard").textContent = TEXT.wallboard;
    $("to-wallboard").href = "/?lang=" + LANG;
    $("h-alerts").textContent = TEXT.alerts;
    $("h-silences").textContent = TEXT.silences;
    $("h-notifications").textContent = TEXT.notifications;
    $("key-label").textContent = TEXT.key;
    $("key-button").textContent = TEXT.ok;
    $("lang-" + LANG).classList.add("current");
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      KEY = $("key-input").value.trim();
      sessionStorage.setItem("sqm-key", KEY);
      $("key-input").value = "";
      $("message").textContent = "";
      refresh();
    });
    const tick = () => { $("clock").textContent = new Date().toLocaleTimeString(LANG === "zh" ? "zh-CN" : "en-GB"); };
    tick();
    setInterval(tick, 1000);
    try {
      state.config = await api("GET", "/v1/config/public");
    } catch (err) {
      state.config = { teams: [], channels: [], kpis: {} };
    }
    sqm.format.use(state.config.kpis);
    await refresh();
    setInterval(refresh, 10000);
  }

  start();
})();
