// The wallboard's sparklines: a tile's recent values as an SVG polyline, with its target as a line
// when the target is near the values. Loaded after common.js: sqm.spark.
"use strict";

window.sqm.spark = (function () {
  const SVG = "http://www.w3.org/2000/svg";

  // vals: [{t: epoch ms, v: value}] oldest first; target: a number or null. Fewer than 2 values: empty.
  return function spark(svg, vals, target) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (vals.length < 2) return;
    let lo = Math.min(...vals.map((p) => p.v)), hi = Math.max(...vals.map((p) => p.v));
    if (target !== null && target >= lo - (hi - lo) && target <= hi + (hi - lo)) {
      lo = Math.min(lo, target); hi = Math.max(hi, target);
    }
    if (hi === lo) { hi += 1; lo -= 1; }
    const t0 = vals[0].t, t1 = vals[vals.length - 1].t || t0 + 1;
    const x = (t) => (t1 === t0 ? 100 : ((t - t0) / (t1 - t0)) * 100);
    const y = (v) => 22 - ((v - lo) / (hi - lo)) * 20;
    if (target !== null && target >= lo && target <= hi) {
      const line = document.createElementNS(SVG, "line");
      line.setAttribute("x1", "0"); line.setAttribute("x2", "100");
      line.setAttribute("y1", y(target).toFixed(2)); line.setAttribute("y2", y(target).toFixed(2));
      line.setAttribute("class", "target-line");
      svg.appendChild(line);
    }
    const poly = document.createElementNS(SVG, "polyline");
    poly.setAttribute("points", vals.map((p) => x(p.t).toFixed(2) + "," + y(p.v).toFixed(2)).join(" "));
    poly.setAttribute("class", "line");
    svg.appendChild(poly);
  };
})();
