// KPI values as people read them, one rule per unit, in en and zh: the mirror of sqm/formatting.py
// (its docstring has the table). tests/kpi_format_table.json holds the rows both must agree on; the
// tests check Python with pytest and this file in Chromium. Loaded after common.js: sqm.format.
"use strict";

window.sqm.format = (function () {
  const MISSING = "–";
  const MINUTES_FROM_S = 120, HOURS_FROM_S = 3600;
  const DURATION_UNITS = { en: [" s", " min", " h"], zh: ["秒", "分钟", "小时"] };
  let units = {}; // KPI name → unit, from /v1/config's kpis (use())

  // digits decimals, half away from zero on the exact binary value (toFixed's rule, Python's Decimal
  // ROUND_HALF_UP); a value that rounds to zero has no sign.
  function fixed(v, digits) {
    const text = v.toFixed(digits);
    return /^-[0.]+$/.test(text) ? text.slice(1) : text;
  }

  function seconds(v, lang, scale) {
    const [secs, mins, hours] = DURATION_UNITS[lang];
    if (scale < MINUTES_FROM_S) return fixed(v, 0) + secs;
    if (scale < HOURS_FROM_S) return fixed(v / 60, 1) + mins;
    return fixed(v / 3600, 1) + hours;
  }

  const RULES = {
    seconds,
    ratio: (v) => fixed(v * 100, 1) + "%",
    score: (v) => fixed(v, 0),
    count: (v) => fixed(v, 0).replace(/\B(?=(\d{3})+(?!\d))/g, ","),
    number: (v) => fixed(v, 2).replace(/0+$/, "").replace(/\.$/, ""),
  };

  const finite = (v) => typeof v === "number" && Number.isFinite(v);

  // A value of a unit; values read side by side (a value and its baseline) share the unit of the larger.
  // A KPI without a unit (one /v1/config does not list) is a plain number.
  function quantity(unit, v, lang, alongside) {
    if (!finite(v)) return MISSING;
    const rule = RULES[unit] || RULES.number;
    const scale = Math.max(Math.abs(v), ...(alongside || []).filter(finite).map(Math.abs));
    return rule(v, lang === "zh" ? "zh" : "en", scale);
  }

  return {
    MISSING,
    fixed,
    quantity,
    value: (kpi, v, lang, alongside) => quantity(units[kpi], v, lang, alongside),
    use(kpis) { units = Object.fromEntries(Object.entries(kpis).map(([name, meta]) => [name, meta.unit])); },
    has: (kpi) => kpi in units,
  };
})();
