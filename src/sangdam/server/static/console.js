// Agent console: live conversation list and queue (customer name, waiting time, last activity), the selected
// conversation over server push (transcript, state), trace, summary, agent assist, take over / join / hand back.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  // The agent's key lives in this tab only (sessionStorage): closing the tab logs out, other sites never see it.
  let key = sessionStorage.getItem("sangdam.console.key") || "", selected = null, shownIdx = -1, listener = null, details = null;
  const rows = new Map();
  const api = (method, path, body) => Sangdam.call(key, method, path, body);
  const LABELS = { category: "분류", customer_request: "고객 요청", verified: "본인 확인", actions_taken: "처리 내역",
                   outcome: "결과", follow_up: "후속 조치", sentiment: "고객 감정" };

  const ESCALATION = { angry: "고객 분노", repeated_frustration: "불만 반복", repeated_failure: "해결 실패 반복" };

  const customerLabel = (row) => row.customer_name || (row.verified ? "확인된 고객" : "미확인 고객");

  function convCard(row, summary) {
    const d = Sangdam.el("div", "conv" + (row.id === selected ? " selected" : ""));
    d.dataset.id = row.id; d.setAttribute("data-testid", "conversation");
    d.appendChild(Sangdam.el("span", "badge " + row.mode, row.mode === "human" ? "상담사" : row.mode === "bot" ? "AI" : "종료"));
    d.appendChild(Sangdam.el("span", "badge", row.channel));
    if (row.escalation) {  // the bot offered a person: anger or repeated failure (contact_center/escalation.py)
      const e = Sangdam.el("span", "badge escalation", `상담사 필요 · ${ESCALATION[row.escalation] || row.escalation}`);
      e.setAttribute("data-testid", "escalation"); d.appendChild(e);
    }
    const name = Sangdam.el("span", "name", customerLabel(row)); name.setAttribute("data-testid", "customer-name");
    d.appendChild(name);
    d.appendChild(Sangdam.el("div", "", (row.last_message || "(메시지 없음)").slice(0, 60)));
    if (row.waiting_s !== null && row.waiting_s !== undefined) {
      const w = Sangdam.el("div", "meta waiting", `대기 ${Sangdam.duration(row.waiting_s)}`); w.setAttribute("data-testid", "waiting");
      d.appendChild(w);
    }
    const idle = Sangdam.el("div", "meta", `마지막 활동 ${Sangdam.duration(row.idle_s)} 전`); idle.setAttribute("data-testid", "last-activity");
    d.appendChild(idle);
    if (summary) d.appendChild(Sangdam.el("div", "meta", `${summary.category} · ${summary.outcome}`));
    d.appendChild(Sangdam.el("div", "id", row.id));
    d.onclick = () => select(row.id);
    return d;
  }

  async function refreshLists() {
    try {
      const [all, queue] = await Promise.all([api("GET", "/api/v1/console/conversations"), api("GET", "/api/v1/console/queue")]);
      for (const r of all) rows.set(r.id, r);
      $("list").replaceChildren(...all.map((r) => convCard(r)));
      $("queue").replaceChildren(...queue.map((q) => convCard(q, q.summary)));
      if (!queue.length) $("queue").textContent = "대기 중인 상담이 없습니다.";
      if (selected && rows.has(selected)) $("title").textContent = `${customerLabel(rows.get(selected))} · ${selected}`;
    } catch (e) { $("error").textContent = e.message; }
  }

  function renderSummary(s) {
    const dl = $("summary"); dl.innerHTML = "";
    for (const [k, label] of Object.entries(LABELS)) {
      let v = s[k];
      if (k === "verified") v = v ? "완료" : "안 됨";
      if (k === "actions_taken") v = v.length ? v.map((a) => `${a.description} (${a.status})`).join(", ") : "없음";
      dl.append(Sangdam.el("dt", "", label), Sangdam.el("dd", "", String(v)));
    }
  }

  function renderTrace(turns) {
    $("trace").replaceChildren(...turns.map((t) => {
      const p = Sangdam.el("pre");
      const calls = (t.tool_calls || []).map((c) => `${c.name}(${JSON.stringify(c.args)}) → ${c.status}`).join("\n  ");
      const plan = (t.plan || []).map((s) => `${s.agent}:${s.intent}`).join(", ");
      const v = t.verifier ? `${t.verifier.passed ? "통과" : "실패"} (${t.verifier.action})` : "-";
      p.textContent = `#${t.turn_index} 의도: ${(t.intents || []).join(", ") || "-"}\n계획: ${plan || "-"}\n도구: ${calls || "-"}\n검증: ${v}\n지연: ${t.latency_ms ? t.latency_ms.total : "-"}ms`;
      return p;
    }));
  }

  // QA scorecard (docs/qa.md): one row per rubric item with its verdict and the turn that shows it.
  const VERDICTS = { true: "통과", false: "미통과", null: "해당 없음" };
  function renderQa(card) {
    const table = Sangdam.el("table", "qa");
    const head = Sangdam.el("tr");
    for (const h of ["항목", "결과", "근거"]) head.appendChild(Sangdam.el("th", "", h));
    table.appendChild(head);
    for (const item of card.items) {
      const tr = Sangdam.el("tr", "qa-" + String(item.passed)); tr.setAttribute("data-testid", "qa-item");
      tr.dataset.item = item.item; tr.title = item.evidence.note || "";
      const turn = item.evidence.turn === null || item.evidence.turn === undefined ? "-" : `#${item.evidence.turn}`;
      tr.append(Sangdam.el("td", "", item.label_ko), Sangdam.el("td", "verdict", VERDICTS[String(item.passed)]),
                Sangdam.el("td", "", turn));
      table.appendChild(tr);
    }
    const score = Sangdam.el("div", "meta", `점수 ${Math.round(card.score * 100)}점 · 기준 ${card.rubric_version}`);
    score.setAttribute("data-testid", "qa-score");
    $("qa").replaceChildren(score, table);
  }

  // Summary, trace and suggestions follow the transcript; several messages at once refresh them once.
  function refreshDetails() {
    clearTimeout(details);
    details = setTimeout(async () => {
      const id = selected;
      if (!id) return;
      try {
        const [summary, trace, assist] = await Promise.all([
          api("GET", `/api/v1/conversations/${id}/summary`), api("GET", `/api/v1/conversations/${id}/trace`),
          api("GET", `/api/v1/conversations/${id}/assist`)]);
        if (id !== selected) return;
        renderSummary(summary); renderTrace(trace.turns);
        api("GET", `/api/v1/conversations/${id}/qa`).then((card) => { if (id === selected) renderQa(card); })
          .catch((e) => { $("qa").textContent = e.message; });
        $("suggestions").replaceChildren(...assist.suggestions.map((s) => {
          const b = Sangdam.el("button", "suggestion", s); b.onclick = () => { $("text").value = s; $("text").focus(); }; return b;
        }));
        $("passages").replaceChildren(...(assist.passages.length ? assist.passages.map((p) => Sangdam.el("pre", "", `[${p.source} · ${p.heading}]\n${p.text}`))
          : [Sangdam.el("div", "", assist.kb_available ? "관련 문서가 없습니다." : "지식 베이스가 아직 없습니다.")]));
      } catch (e) { $("error").textContent = e.message; }
    }, 150);
  }

  function onEvent(event, data) {
    if (event === "message") {
      if (data.idx <= shownIdx) return;
      const who = { customer: "고객", bot: "AI 상담원", agent: "상담사", system: "" }[data.role];
      const d = Sangdam.el("div", "msg " + data.role); d.dataset.role = data.role; d.dataset.idx = data.idx;
      if (who) d.appendChild(Sangdam.el("span", "who", who));
      d.appendChild(Sangdam.el("span", "body", data.text));
      $("messages").appendChild(d); shownIdx = data.idx; $("messages").scrollTop = 1e9;
      refreshDetails();
    } else if (event === "state") {
      setMode(data.mode, data.agent_joined);
      refreshDetails();
    }
  }

  // mode bot: "직접 응대" takes over; a bot transfer (human, nobody joined yet): "응대 시작" joins.
  function setMode(m, joined) {
    $("mode").textContent = m === "human" ? (joined ? "상담사 응대 중" : "상담사 대기") : m === "bot" ? "AI 응대 중" : "종료";
    document.body.dataset.mode = m;
    document.body.dataset.agentJoined = joined ? "yes" : "no";
    $("takeover").textContent = m === "human" && !joined ? "응대 시작" : "직접 응대";
    $("takeover").disabled = !(m === "bot" || (m === "human" && !joined));
    $("handback").disabled = m !== "human";
    $("text").disabled = $("send").disabled = m !== "human";
  }

  function select(id) {
    if (listener) listener.stop();
    selected = id; shownIdx = -1; $("messages").innerHTML = ""; $("error").textContent = "";
    $("title").textContent = rows.has(id) ? `${customerLabel(rows.get(id))} · ${id}` : id;
    for (const c of document.querySelectorAll(".conv")) c.classList.toggle("selected", c.dataset.id === id);
    listener = Sangdam.listen(key, () => `/api/v1/conversations/${id}/events?after=${shownIdx}`, onEvent,
      (e) => { $("error").textContent = e.message; });
  }

  async function changeMode(action) {
    try { await api("POST", `/api/v1/conversations/${selected}/${action}`); await refreshLists(); }
    catch (e) { $("error").textContent = e.message; }
  }

  async function start() {
    try { await api("GET", "/api/v1/console/conversations?limit=1"); } catch (e) { $("login-error").textContent = e.message; return; }
    await refreshLists();
    sessionStorage.setItem("sangdam.console.key", key);
    $("login").hidden = true; $("console").hidden = false;
    setInterval(() => { if (!document.hidden) refreshLists(); }, 3000);  // 40 requests a minute, none in a hidden tab
  }

  $("login-btn").onclick = () => { key = $("key").value.trim(); start(); };
  $("takeover").onclick = () => changeMode("takeover");
  $("handback").onclick = () => changeMode("handback");
  $("composer").onsubmit = async (ev) => {
    ev.preventDefault(); const text = $("text").value.trim(); if (!text) return;
    try { await api("POST", `/api/v1/conversations/${selected}/agent-messages`, { text }); $("text").value = ""; refreshLists(); }
    catch (e) { $("error").textContent = e.message; }
  };
  if (key) { $("key").value = key; start(); }
})();
