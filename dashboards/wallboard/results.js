// The improvement results page: each experiment's KPIs with the daily always-valid interval (uPlot),
// and the improvement actions with the programme's KPIs. Reads /v1/experiments and /v1/actions.
"use strict";

(function () {
  const lang = (new URLSearchParams(location.search).get("lang") || (navigator.language || "zh")).startsWith("en") ? "en" : "zh";
  const T = {
    zh: { title: "改进效果", experiments: "对比实验", actions: "改进措施", none: "暂无实验。", console: "告警处理台",
          diff: "差值", lo: "下限", hi: "上限", heads: ["编号", "问题", "措施", "负责人", "指标", "状态", "截止日期"],
          programme: (p) => `提案采纳率 ${pct(p.adoption_rate)}（目标 70 %）· 按期落地率 ${pct(p.landing_rate)}（目标 90 %）· 验证有效 ${pct(p.verified_rate)}` },
    en: { title: "Improvement results", experiments: "Experiments", actions: "Improvement actions", none: "No experiments yet.",
          console: "Console", diff: "difference", lo: "lower", hi: "upper",
          heads: ["ID", "Problem", "Fix", "Owner", "KPI", "State", "Deadline"],
          programme: (p) => `Proposals adopted ${pct(p.adoption_rate)} (target 70 %) · landed by the deadline ${pct(p.landing_rate)} (target 90 %) · verified ${pct(p.verified_rate)}` },
  }[lang];
  const key = window.sqm.takeKey();
  const el = window.sqm.el;

  function pct(x) { return x === null || x === undefined ? "–" : `${Math.round(x * 100)} %`; }

  async function get(path) {
    const headers = key ? { Authorization: `Bearer ${key}` } : {};
    const r = await fetch(path, { headers });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.json();
  }

  function chart(target, r) {
    const scale = r.unit === "ratio" ? 100 : 1;
    const xs = r.looks.map((l) => Date.parse(l.day) / 1000);
    const v = (f) => r.looks.map((l) => (l[f] === null ? null : l[f] * scale));
    const opts = {
      width: 420, height: 180, legend: { show: true },
      scales: { x: { time: true } },
      axes: [{ stroke: "#9ca3af" }, { stroke: "#9ca3af" }],
      series: [{}, { label: T.diff, stroke: "#60a5fa", width: 2 },
               { label: T.lo, stroke: "#6b7280", dash: [4, 4] }, { label: T.hi, stroke: "#6b7280", dash: [4, 4] }],
    };
    return new uPlot(opts, [xs, v("diff"), v("lo"), v("hi")], target);
  }

  function experiment(exp, result) {
    const box = el("div", "experiment");
    box.dataset.id = exp.id;
    box.append(el("h3", null, `${exp.name} · ${result.a.label} → ${result.b.label} (${result.design})`));
    for (const [kpi, r] of Object.entries(result.kpis)) {
      const row = el("div", "kpi-result");
      row.dataset.kpi = kpi;
      const words = el("p", "verdict", lang === "zh" ? r.verdict_zh : r.verdict_en);
      words.dataset.decision = r.decision;
      const plot = el("div", "chart");
      row.append(plot, words);
      box.append(row);
      if (r.looks.length) chart(plot, r);
    }
    return box;
  }

  async function load() {
    document.title = `sqm · ${T.title}`;
    document.getElementById("title").textContent = T.title;
    document.getElementById("h-experiments").textContent = T.experiments;
    document.getElementById("h-actions").textContent = T.actions;
    document.getElementById("to-console").textContent = T.console;
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    const exps = await get("/v1/experiments");
    const holder = document.getElementById("experiments");
    holder.replaceChildren();
    for (const exp of exps) holder.append(experiment(exp, await get(`/v1/experiments/${encodeURIComponent(exp.id)}/results`)));
    const empty = document.getElementById("experiments-empty");
    empty.hidden = exps.length > 0;
    empty.textContent = T.none;
    const [actions, programme] = await Promise.all([get("/v1/actions"), get("/v1/actions/kpis")]);
    document.getElementById("programme").textContent = T.programme(programme);
    const table = document.getElementById("actions");
    table.tHead.rows[0].replaceChildren(...T.heads.map((h) => el("th", null, h)));
    table.tBodies[0].replaceChildren(...actions.map((a) => {
      const tr = el("tr");
      tr.dataset.state = a.state;
      for (const v of [a.id, a.problem, a.fix, a.owner, a.kpi, a.state, a.deadline ? a.deadline.slice(0, 10) : "–"]) tr.append(el("td", null, v));
      return tr;
    }));
    document.body.dataset.loaded = "1";
  }

  load().catch((err) => { document.body.dataset.error = String(err); });
})();
