/**
 * The live picture's page (docs/picture.md): one HTML document, inline CSS and JS, SVG drawn by
 * hand; no build step and no library. It reads /picture.json once, then follows /events.
 * Elements carry data attributes (data-link, data-down, data-split, data-leader, data-points)
 * so a browser test can read the state the page shows. The script avoids template literals:
 * this file holds it in one.
 */
export const PICTURE_PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>synod — live picture</title>
<style>
  :root { --bg:#0f1419; --panel:#171d24; --line:#2a323c; --text:#d6dde4; --dim:#8894a0; --ok:#3fb950; --bad:#f85149; --warn:#d29922; --lead:#f0c419;
          --dc0:#58a6ff; --dc1:#bc8cff; --dc2:#39c5cf; --dc3:#ff9bce; --dc4:#7ee787; }
  * { box-sizing: border-box; }
  html, body { margin:0; height:100%; background:var(--bg); color:var(--text); font:13px/1.35 system-ui, -apple-system, "Segoe UI", sans-serif; overflow:hidden; }
  header { display:flex; gap:18px; align-items:baseline; padding:8px 14px; border-bottom:1px solid var(--line); height:36px; }
  header h1 { font-size:15px; margin:0; }
  header .dim, .dim { color:var(--dim); }
  #conn.live { color:var(--ok); } #conn.lost { color:var(--bad); }
  main { display:grid; grid-template-columns: 700px 1fr; grid-template-rows: 390px 1fr; gap:10px; padding:10px 14px; height:calc(100% - 36px - 26px); }
  section { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:8px 10px; overflow:hidden; }
  section h2 { font-size:12px; text-transform:uppercase; letter-spacing:.06em; color:var(--dim); margin:0 0 6px; font-weight:600; }
  #charts { grid-column: 1 / span 2; display:grid; grid-template-columns: repeat(3, 1fr); gap:12px; }
  #charts > div { display:flex; flex-direction:column; min-width:0; }
  svg { display:block; }
  svg text { fill:var(--text); font-size:12px; }
  svg .dim { fill:var(--dim); }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:5px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { color:var(--dim); font-weight:500; font-size:12px; }
  td.range { font-family: ui-monospace, monospace; font-size:12px; }
  .dot { display:inline-block; width:12px; height:12px; border-radius:50%; margin-right:4px; vertical-align:middle; border:2px solid transparent; }
  .dot.leader { width:16px; height:16px; border-color:var(--lead); box-shadow:0 0 6px var(--lead); }
  .dot.down { opacity:.3; }
  .lead { color:var(--lead); font-weight:600; }
  footer { height:26px; padding:4px 14px; color:var(--dim); font-size:11px; border-top:1px solid var(--line); white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
  .legend span { margin-right:10px; }
</style>
</head>
<body>
<header>
  <h1>synod — live picture</h1>
  <span class="dim">map generation <b id="gen">–</b></span>
  <span class="dim">fault picture v<b id="chaosv">–</b></span>
  <span class="dim">updated <b id="updated">–</b></span>
  <span id="conn" class="lost">connecting…</span>
</header>
<main>
  <section id="topology"><h2>Datacenters, nodes and links</h2><svg id="dcs" width="676" height="352" viewBox="0 0 676 352"></svg></section>
  <section id="splits-panel"><h2>Splits: replicas and leader</h2>
    <table><thead><tr><th>split</th><th>range</th><th>gen</th><th>replicas (leader ringed)</th><th>leader</th><th>max t_safe lag</th></tr></thead><tbody id="splits"></tbody></table>
    <p class="legend dim" id="legend"></p>
  </section>
  <section id="charts">
    <div><h2>Commits/s <span class="dim" id="ops-now"></span></h2><svg id="chart-ops" width="380" height="250"></svg></div>
    <div><h2>Commit latency p50 / p99, ms <span class="dim" id="lat-now"></span></h2><svg id="chart-lat" width="380" height="250"></svg></div>
    <div><h2>Commit-wait share of commit latency <span class="dim" id="cw-now"></span></h2><svg id="chart-cw" width="380" height="250"></svg></div>
  </section>
</main>
<footer>Commits are read-write transactions acknowledged by split leaders (node.status of every spanserver, differences between polls); p50/p99 are estimated from latency buckets; commit-wait share = commit wait / commit latency, summed. ε and t_safe lag as each node reports them; links from the fault picture; ⏰ a clock fault reported by the node. docs/picture.md</footer>
<script>
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var dcColor = {};
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; }); }
  function colorOf(dc) { return dcColor[dc] || "var(--dim)"; }
  function fmt(x, d) { return x === null || x === undefined ? "–" : Number(x).toFixed(d === undefined ? 1 : d); }
  /** "" starts the key space and, as an end, means its end. */
  function keyText(k, isEnd) { return k === "" && isEnd ? "∞" : JSON.stringify(k); }

  /** DC boxes around an ellipse, links between their centres behind them. */
  function drawDcs(p) {
    var svg = document.getElementById("dcs");
    var W = 676, H = 352, n = p.dcs.length, bw = 228, bh = 40 + 34 * Math.max(1, Math.max.apply(null, p.dcs.map(function (d) { return d.nodes.length; })));
    bh = Math.min(bh, 160);
    var pos = {};
    p.dcs.forEach(function (d, i) {
      dcColor[d.name] = "var(--dc" + (i % 5) + ")";
      var a = n === 1 ? Math.PI / 2 : (200 + i * 360 / n) * Math.PI / 180;
      pos[d.name] = { x: W / 2 + (W / 2 - bw / 2 - 6) * Math.cos(a), y: H / 2 + (H / 2 - bh / 2 - 6) * Math.sin(a) };
    });
    var out = [];
    p.links.forEach(function (l) {
      var a = pos[l.from], b = pos[l.to];
      if (!a || !b) return;
      var mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
      var cls = l.down ? "cut" : "up";
      out.push('<g data-link="' + esc(l.from + "|" + l.to) + '" data-down="' + l.down + '" data-latency-ms="' + l.latencyMs + '">');
      out.push('<line x1="' + a.x + '" y1="' + a.y + '" x2="' + b.x + '" y2="' + b.y + '" stroke="' + (l.down ? "var(--bad)" : (l.latencyMs > 0 || l.loss > 0 ? "var(--warn)" : "var(--ok)")) +
        '" stroke-width="' + (l.down ? 3 : 2) + '"' + (l.down ? ' stroke-dasharray="9 7"' : "") + ' class="' + cls + '"/>');
      var label = l.down ? (l.oneWay ? "✂ cut one way" : "✂ cut") : (l.latencyMs > 0 ? "+" + fmt(l.latencyMs, 0) + " ms" : "");
      if (l.loss > 0) label += (label ? ", " : "") + Math.round(l.loss * 100) + "% loss";
      if (label) out.push('<rect x="' + (mx - 48) + '" y="' + (my - 11) + '" width="96" height="20" rx="4" fill="#0f1419" stroke="' + (l.down ? "var(--bad)" : "var(--warn)") + '"/><text x="' + mx + '" y="' + (my + 4) + '" text-anchor="middle"' + (l.down ? ' style="fill:var(--bad);font-weight:600"' : "") + ">" + esc(label) + "</text>");
      out.push("</g>");
    });
    p.dcs.forEach(function (d) {
      var c = pos[d.name], x = c.x - bw / 2, y = c.y - bh / 2;
      out.push('<g data-dc="' + esc(d.name) + '"><rect x="' + x + '" y="' + y + '" width="' + bw + '" height="' + bh + '" rx="8" fill="#11161c" stroke="' + colorOf(d.name) + '" stroke-width="2"/>');
      out.push('<text x="' + (x + 10) + '" y="' + (y + 20) + '" style="font-weight:700;fill:' + colorOf(d.name) + '">' + esc(d.name) + "</text>");
      d.nodes.slice(0, 3).forEach(function (nd, j) {
        var ny = y + 44 + j * 34;
        var fill = !nd.up ? "var(--bad)" : (nd.serving ? "var(--ok)" : "var(--warn)");
        out.push('<g data-node="' + esc(nd.id) + '" data-up="' + nd.up + '"' + (nd.skewMs !== undefined ? ' data-skew-ms="' + nd.skewMs + '"' : "") + ">");
        out.push('<circle cx="' + (x + 16) + '" cy="' + (ny - 4) + '" r="6" fill="' + fill + '"/>');
        out.push('<text x="' + (x + 28) + '" y="' + ny + '" style="font-weight:600">' + esc(nd.id) + (nd.isolated ? ' <tspan style="fill:var(--bad)">isolated</tspan>' : "") + "</text>");
        var clock = nd.skewMs !== undefined || nd.driftPpm !== undefined ? " ⏰ " + (nd.skewMs !== undefined ? (nd.skewMs > 0 ? "+" : "") + fmt(nd.skewMs, 0) + " ms" : "") + (nd.driftPpm !== undefined ? " " + fmt(nd.driftPpm, 0) + " ppm" : "") : "";
        var line = nd.up ? "ε " + fmt(nd.epsilonMs) + " ms · t_safe lag " + fmt(nd.tSafeLagMs, 0) + " ms" + (nd.serving ? "" : " · not serving") : "no answer";
        out.push('<text x="' + (x + 28) + '" y="' + (ny + 14) + '" class="dim" style="font-size:11px">' + esc(line) + "</text>");
        if (clock) out.push('<text x="' + (x + bw - 8) + '" y="' + ny + '" text-anchor="end" style="fill:var(--warn);font-weight:600">' + esc(clock) + "</text>");
        out.push("</g>");
      });
      if (d.nodes.length > 3) out.push('<text x="' + (x + bw - 8) + '" y="' + (y + 20) + '" text-anchor="end" class="dim">+' + (d.nodes.length - 3) + " more</text>");
      out.push("</g>");
    });
    svg.innerHTML = out.join("");
  }

  function drawSplits(p) {
    var dcOf = {}, up = {};
    p.dcs.forEach(function (d) { d.nodes.forEach(function (nd) { dcOf[nd.id] = d.name; up[nd.id] = nd.up; }); });
    var rows = p.splits.map(function (s) {
      var dots = s.replicas.map(function (r) {
        return '<span class="dot' + (r === s.leader ? " leader" : "") + (up[r] ? "" : " down") + '" title="' + esc(r + " in " + dcOf[r]) + '" style="background:' + colorOf(dcOf[r]) + '" data-replica="' + esc(r) + '"></span>';
      }).join("");
      var lags = Object.keys(s.tSafeLagMs).map(function (k) { return s.tSafeLagMs[k]; });
      return '<tr data-split="' + esc(s.id) + '" data-leader="' + esc(s.leader || "") + '" data-leader-dc="' + esc(s.leaderDc || "") + '" data-generation="' + s.generation + '">' +
        "<td><b>" + esc(s.id) + '</b></td><td class="range">[' + esc(keyText(s.start, false)) + ", " + esc(keyText(s.end, true)) + ")</td><td>" + s.generation + "</td><td>" + dots + "</td>" +
        "<td>" + (s.leader ? '<span class="lead">' + esc(s.leader) + '</span> <span class="dim">' + esc(s.leaderDc) + "</span>" : '<span style="color:var(--bad)">none</span>') + "</td>" +
        "<td>" + (s.quiet ? '<span class="dim" title="quiescent: t_safe moves again with the next request">quiet</span>' : lags.length ? fmt(Math.max.apply(null, lags), 0) + " ms" : "–") + "</td></tr>";
    });
    document.getElementById("splits").innerHTML = rows.join("");
    document.getElementById("legend").innerHTML = p.dcs.map(function (d) { return '<span><span class="dot" style="background:' + colorOf(d.name) + '"></span>' + esc(d.name) + "</span>"; }).join("") +
      '<span><span class="dot leader" style="background:var(--dim)"></span>leader</span><span><span class="dot down" style="background:var(--dim)"></span>no answer</span>';
  }

  /** A small line chart: series of [t, value|null], shared time axis over the samples held. */
  function chart(id, series, opts) {
    var svg = document.getElementById(id), W = 380, H = 250, L = 44, R = 8, T = 8, B = 22;
    var pts = series[0].points;
    var t0 = pts.length ? pts[0][0] : 0, t1 = pts.length ? pts[pts.length - 1][0] : 1;
    if (t1 - t0 < 60000) t0 = t1 - 60000;
    var max = opts.max || 0;
    series.forEach(function (s) { s.points.forEach(function (q) { if (q[1] !== null && q[1] > max) max = q[1]; }); });
    if (!opts.max) max = max <= 0 ? 1 : max * 1.15;
    function X(t) { return L + (W - L - R) * (t - t0) / (t1 - t0 || 1); }
    function Y(v) { return T + (H - T - B) * (1 - v / max); }
    var out = [];
    for (var i = 0; i <= 4; i++) {
      var v = max * i / 4, y = Y(v);
      out.push('<line x1="' + L + '" x2="' + (W - R) + '" y1="' + y + '" y2="' + y + '" stroke="#2a323c"/><text x="' + (L - 4) + '" y="' + (y + 4) + '" text-anchor="end" class="dim" style="font-size:10px">' + (opts.pct ? Math.round(v * 100) + "%" : (v >= 100 ? Math.round(v) : v.toFixed(1))) + "</text>");
    }
    var span = Math.round((t1 - t0) / 1000);
    out.push('<text x="' + L + '" y="' + (H - 5) + '" class="dim" style="font-size:10px">−' + span + ' s</text><text x="' + (W - R) + '" y="' + (H - 5) + '" text-anchor="end" class="dim" style="font-size:10px">now</text>');
    series.forEach(function (s) {
      var d = "", pen = false;
      s.points.forEach(function (q) {
        if (q[1] === null) { pen = false; return; }
        d += (pen ? "L" : "M") + X(q[0]).toFixed(1) + " " + Y(q[1]).toFixed(1) + " ";
        pen = true;
      });
      out.push('<path d="' + d + '" fill="none" stroke="' + s.color + '" stroke-width="2"/>');
      if (series.length > 1) out.push('<text x="' + (W - R) + '" y="' + (T + 12 + 14 * series.indexOf(s)) + '" text-anchor="end" style="fill:' + s.color + ';font-size:11px">' + esc(s.name) + "</text>");
    });
    svg.innerHTML = out.join("");
    svg.setAttribute("data-points", String(pts.length));
    svg.setAttribute("data-last", pts.length ? String(pts[pts.length - 1][1]) : "");
    svg.setAttribute("data-sum", String(pts.reduce(function (a, q) { return a + (q[1] || 0); }, 0)));
  }

  function drawCharts(p) {
    var s = p.series;
    function col(k) { return s.map(function (x) { return [x.t, x[k]]; }); }
    chart("chart-ops", [{ name: "commits/s", color: "var(--dc0)", points: col("opsPerSec") }], {});
    chart("chart-lat", [{ name: "p50", color: "var(--ok)", points: col("p50Ms") }, { name: "p99", color: "var(--warn)", points: col("p99Ms") }], {});
    chart("chart-cw", [{ name: "share", color: "var(--dc1)", points: col("commitWaitShare") }], { max: 1, pct: true });
    var last = s.length ? s[s.length - 1] : null;
    document.getElementById("ops-now").textContent = last ? "now " + fmt(last.opsPerSec) : "";
    document.getElementById("lat-now").textContent = last ? "now " + fmt(last.p50Ms) + " / " + fmt(last.p99Ms) : "";
    document.getElementById("cw-now").textContent = last && last.commitWaitShare !== null ? "now " + Math.round(last.commitWaitShare * 100) + "%" : "";
  }

  function render(p) {
    document.getElementById("gen").textContent = p.generation;
    document.getElementById("chaosv").textContent = p.chaosVersion;
    document.getElementById("updated").textContent = new Date(p.at).toLocaleTimeString();
    document.body.setAttribute("data-at", String(p.at));
    drawDcs(p);
    drawSplits(p);
    drawCharts(p);
  }

  function setConn(live, text) {
    var c = document.getElementById("conn");
    c.className = live ? "live" : "lost";
    c.textContent = text;
  }

  fetch("picture.json").then(function (r) { return r.ok ? r.json() : null; }).then(function (p) { if (p) render(p); }).catch(function () {});
  var es = new EventSource("events");
  es.addEventListener("picture", function (e) { setConn(true, "● live"); render(JSON.parse(e.data)); });
  es.onerror = function () { setConn(false, "reconnecting…"); };
})();
</script>
</body>
</html>
`;
