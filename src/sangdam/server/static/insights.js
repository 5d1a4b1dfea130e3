// Insights dashboard (/console/insights): one call to /api/v1/insights/summary per date range (the server
// aggregates in SQL), drawn with the vendored Chart.js; every number is also written as text.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  // The same key as the console, in this tab only (sessionStorage): opened from the console, no second login.
  let key = sessionStorage.getItem("sangdam.console.key") || "";
  const charts = {};
  const SENTIMENT = [["positive", "긍정", "#2e9d5b"], ["neutral", "중립", "#8a94a6"], ["negative", "부정", "#e08a1e"],
                     ["angry", "분노", "#c62828"]];
  const BLUE = "#1f5fbf", ORANGE = "#e08a1e";
  Chart.defaults.font.family = '"Noto Sans KR","Malgun Gothic",system-ui,sans-serif';
  Chart.defaults.animation = false;  // a dashboard, not a show: numbers appear at once (and screenshots are stable)
  Chart.defaults.maintainAspectRatio = false;

  const count = (n) => `${Number(n).toLocaleString("ko-KR")}건`;
  const percent = (r) => (r === null || r === undefined ? "-" : `${(r * 100).toFixed(1)}%`);
  const isoDay = (d) => d.toISOString().slice(0, 10);
  const addDays = (day, n) => { const d = new Date(day + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + n); return isoDay(d); };

  // Every day of the range for the line charts (days without conversations are zero), up to a year of them;
  // a longer range shows the days that have data.
  function days(from, to, have) {
    const span = (Date.parse(to) - Date.parse(from)) / 86400000;
    if (span > 366) return have;
    const out = [];
    for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
    return out;
  }

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    if (config.type === "line" && config.data.labels.length > 62) {  // months of days: lines without dots
      for (const ds of config.data.datasets) { ds.pointRadius = 0; ds.borderWidth = 1.5; }
    }
    const canvas = $(id);
    charts[id] = new Chart(canvas, config);
    canvas.dataset.points = String(config.data.datasets.reduce((n, ds) => n + ds.data.filter((v) => v).length, 0));
  }

  function table(id, head, rows) {
    const t = $(id); t.replaceChildren();
    const tr = Sangdam.el("tr"); head.forEach((h) => tr.appendChild(Sangdam.el("th", "", h))); t.appendChild(tr);
    for (const r of rows) { const row = Sangdam.el("tr"); r.forEach((c) => row.appendChild(Sangdam.el("td", "", String(c)))); t.appendChild(row); }
    if (!rows.length) { const row = Sangdam.el("tr"); const td = Sangdam.el("td", "empty", "데이터 없음"); td.colSpan = head.length; row.appendChild(td); t.appendChild(row); }
  }

  function renderVolume(s) {
    const v = s.volume;
    $("kpi-volume").textContent = count(v.total);
    $("kpi-containment").textContent = percent(v.containment_rate);
    $("kpi-handoff").textContent = percent(v.handoff_rate);
    $("kpi-contained").textContent = `AI 단독 해결 ${count(v.contained)}`;
    $("kpi-handed").textContent = `상담사 연결 ${count(v.handed_off)}`;
    const byDay = new Map(v.per_day.map((d) => [d.day, d]));
    const labels = days(s.from, s.to, v.per_day.map((d) => d.day));
    draw("chart-volume", { type: "line", data: { labels, datasets: [
      { label: "상담 건수", data: labels.map((d) => (byDay.get(d) || {}).conversations || 0), borderColor: BLUE, backgroundColor: BLUE },
      { label: "상담사 연결", data: labels.map((d) => (byDay.get(d) || {}).handed_off || 0), borderColor: ORANGE, backgroundColor: ORANGE },
    ] }, options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  }

  function renderSentiment(s) {
    const byDay = new Map(s.sentiment.map((d) => [d.day, d.counts]));
    const labels = days(s.from, s.to, s.sentiment.map((d) => d.day));
    draw("chart-sentiment", { type: "line", data: { labels, datasets: SENTIMENT.map(([k, name, color]) => (
      { label: name, data: labels.map((d) => (byDay.get(d) || {})[k] || 0), borderColor: color, backgroundColor: color })) },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
    const totals = SENTIMENT.map(([k]) => s.sentiment.reduce((n, d) => n + (d.counts[k] || 0), 0));
    const all = totals.reduce((a, b) => a + b, 0);
    table("table-sentiment", ["감정", "고객 발화", "비율"], all ? SENTIMENT.map(([, name], i) => [name, count(totals[i]), percent(totals[i] / all)]) : []);
  }

  function renderDrivers(s) {
    draw("chart-drivers", { type: "bar", data: { labels: s.drivers.map((d) => d.label), datasets: [
      { label: "상담 건수", data: s.drivers.map((d) => d.conversations), backgroundColor: BLUE }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } },
                 scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { ticks: { autoSkip: false } } } } });
    table("table-drivers", ["문의 유형", "상담", "발화"], s.drivers.map((d) => [d.label, count(d.conversations), count(d.turns)]));
  }

  function renderQa(s) {
    draw("chart-qa", { type: "bar", data: { labels: s.qa.map((q) => q.label), datasets: [
      { label: "통과율 (%)", data: s.qa.map((q) => (q.pass_rate === null ? 0 : Math.round(q.pass_rate * 1000) / 10)), backgroundColor: "#2e9d5b" }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, max: 100 } } } });
    table("table-qa", ["평가 항목", "통과율", "통과", "미통과", "해당 없음"],
      s.qa.map((q) => [q.label, percent(q.pass_rate), ...[q.passed, q.failed, q.not_applicable].map(count)]));
  }

  // Knowledge gaps take seconds (embeddings and clustering on the server): asked for after the summary, shown
  // when they arrive, and only if the range has not changed meanwhile.
  const KINDS = { out_of_scope: "상담 범위 외", knowledge_refusal: "지식 없음", handoff: "상담사 연결" };
  async function loadGaps(s) {
    const range = `${s.from}..${s.to}`;
    $("gaps").replaceChildren(Sangdam.el("div", "empty", "지식 공백을 분석하는 중입니다…"));
    let g;
    try { g = await Sangdam.call(key, "GET", `/api/v1/insights/gaps?from=${s.from}&to=${s.to}`); }
    catch (e) { if (document.body.dataset.range === range) $("gaps").replaceChildren(Sangdam.el("div", "error", e.message)); return; }
    if (document.body.dataset.range !== range) return;
    $("gaps-panel").hidden = !g.available;
    $("gaps").replaceChildren(...(g.clusters.length ? g.clusters.map((c) => {
      const d = Sangdam.el("div", "gap"); d.setAttribute("data-testid", "gap");
      const kinds = Object.entries(c.kinds || {}).map(([k, n]) => `${KINDS[k] || k} ${n}`).join(", ");
      d.appendChild(Sangdam.el("strong", "", `${c.examples[0] || "-"} · 발화 ${count(c.size)} · 상담 ${count(c.conversations)}`));
      if (kinds) d.appendChild(Sangdam.el("div", "meta", kinds));
      const ul = Sangdam.el("ul");
      for (const u of c.examples.slice(0, 3)) ul.appendChild(Sangdam.el("li", "", u));
      d.appendChild(ul);
      d.appendChild(Sangdam.el("pre", "", `제안 FAQ (${c.faq_by === "llm" ? "AI 초안" : "템플릿"})\n${c.faq}`));
      return d;
    }) : [Sangdam.el("div", "empty", "이 기간에는 지식 공백이 없습니다.")]));
    document.body.dataset.gaps = range;
  }

  function summary(from, to) {
    const query = from && to ? `?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}` : "";
    return Sangdam.call(key, "GET", `/api/v1/insights/summary${query}`);
  }

  function render(s) {
    $("from").value = s.from; $("to").value = s.to; $("error").textContent = "";
    renderVolume(s); renderSentiment(s); renderDrivers(s); renderQa(s);
    document.body.dataset.range = `${s.from}..${s.to}`;  // tests and scripts wait on this
    loadGaps(s);
  }

  const load = (from, to) => summary(from, to).then(render).catch((e) => { $("error").textContent = e.message; });

  async function start() {
    let first;
    try { first = await summary(); } catch (e) { $("login-error").textContent = e.message; return; }
    sessionStorage.setItem("sangdam.console.key", key);
    $("login").hidden = true; $("dashboard").hidden = false;
    render(first);  // drawn once visible, so the charts take their panels' size
  }

  $("login-btn").onclick = () => { key = $("key").value.trim(); start(); };
  $("range").onsubmit = (ev) => {
    ev.preventDefault();
    load($("from").value, $("to").value);
  };
  for (const b of document.querySelectorAll("[data-days]")) {
    b.onclick = () => {
      const to = $("to").value || isoDay(new Date());
      load(addDays(to, 1 - Number(b.dataset.days)), to);
    };
  }
  if (key) { $("key").value = key; start(); }
})();
