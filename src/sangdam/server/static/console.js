// Agent console: live conversation list and queue, transcript, trace, summary, agent assist, take over / hand back.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  let key = Sangdam.key("sangdam.console.key"), selected = null, shownIdx = -1, mode = null;
  const api = (method, path, body) => Sangdam.call(key, method, path, body);
  const LABELS = { category: "분류", customer_request: "고객 요청", verified: "본인 확인", actions_taken: "처리 내역",
                   outcome: "결과", follow_up: "후속 조치", sentiment: "고객 감정" };

  function convCard(row, summary) {
    const d = Sangdam.el("div", "conv" + (row.id === selected ? " selected" : ""));
    d.dataset.id = row.id; d.setAttribute("data-testid", "conversation");
    d.appendChild(Sangdam.el("span", "badge " + row.mode, row.mode === "human" ? "상담사" : row.mode === "bot" ? "AI" : "종료"));
    d.appendChild(Sangdam.el("span", "badge", row.channel));
    d.appendChild(Sangdam.el("strong", "", row.id));
    d.appendChild(Sangdam.el("div", "", (row.last_message || "(메시지 없음)").slice(0, 60)));
    if (summary) d.appendChild(Sangdam.el("div", "", `${summary.category} · ${summary.outcome}`));
    d.onclick = () => select(row.id);
    return d;
  }

  async function refreshLists() {
    try {
      const [rows, queue] = await Promise.all([api("GET", "/api/v1/console/conversations"), api("GET", "/api/v1/console/queue")]);
      $("list").replaceChildren(...rows.map((r) => convCard(r)));
      $("queue").replaceChildren(...queue.map((q) => convCard(q, q.summary)));
      if (!queue.length) $("queue").textContent = "대기 중인 상담이 없습니다.";
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

  async function refreshSelected(full) {
    if (!selected) return;
    try {
      const view = await api("GET", `/api/v1/conversations/${selected}?after=${shownIdx}`);
      for (const m of view.messages) {
        if (m.idx <= shownIdx) continue;  // a concurrent refresh drew it already
        const who = { customer: "고객", bot: "AI 상담원", agent: "상담사", system: "" }[m.role];
        const d = Sangdam.el("div", "msg " + m.role); d.dataset.role = m.role;
        if (who) d.appendChild(Sangdam.el("span", "who", who));
        d.appendChild(Sangdam.el("span", "body", m.text));
        $("messages").appendChild(d); shownIdx = Math.max(shownIdx, m.idx); $("messages").scrollTop = 1e9;
      }
      setMode(view.mode);
      if (full || view.messages.length) {
        const [summary, trace, assist] = await Promise.all([
          api("GET", `/api/v1/conversations/${selected}/summary`), api("GET", `/api/v1/conversations/${selected}/trace`),
          api("GET", `/api/v1/conversations/${selected}/assist`)]);
        renderSummary(summary); renderTrace(trace.turns);
        $("suggestions").replaceChildren(...assist.suggestions.map((s) => {
          const b = Sangdam.el("button", "suggestion", s); b.onclick = () => { $("text").value = s; $("text").focus(); }; return b;
        }));
        $("passages").replaceChildren(...(assist.passages.length ? assist.passages.map((p) => Sangdam.el("pre", "", `[${p.source} · ${p.heading}]\n${p.text}`))
          : [Sangdam.el("div", "", assist.kb_available ? "관련 문서가 없습니다." : "지식 베이스가 아직 없습니다.")]));
      }
    } catch (e) { $("error").textContent = e.message; }
  }

  function setMode(m) {
    mode = m; $("mode").textContent = m === "human" ? "상담사 응대 중" : m === "bot" ? "AI 응대 중" : "종료";
    document.body.dataset.mode = m;
    $("takeover").disabled = m !== "bot"; $("handback").disabled = m !== "human";
    $("text").disabled = $("send").disabled = m !== "human";
  }

  async function select(id) {
    selected = id; shownIdx = -1; $("messages").innerHTML = ""; $("title").textContent = id; $("error").textContent = "";
    for (const c of document.querySelectorAll(".conv")) c.classList.toggle("selected", c.dataset.id === id);
    await refreshSelected(true);
  }

  async function changeMode(action) {
    try { await api("POST", `/api/v1/conversations/${selected}/${action}`); await refreshSelected(true); await refreshLists(); }
    catch (e) { $("error").textContent = e.message; }
  }

  async function start() {
    try { await refreshListsOrThrow(); } catch (e) { $("login-error").textContent = e.message; return; }
    localStorage.setItem("sangdam.console.key", key);
    $("login").hidden = true; $("console").hidden = false;
    setInterval(refreshLists, 2000); setInterval(() => refreshSelected(false), 1500);
  }
  async function refreshListsOrThrow() { await api("GET", "/api/v1/console/conversations?limit=1"); await refreshLists(); }

  $("login-btn").onclick = () => { key = $("key").value.trim(); start(); };
  $("takeover").onclick = () => changeMode("takeover");
  $("handback").onclick = () => changeMode("handback");
  $("composer").onsubmit = async (ev) => {
    ev.preventDefault(); const text = $("text").value.trim(); if (!text) return;
    try { await api("POST", `/api/v1/conversations/${selected}/agent-messages`, { text }); $("text").value = ""; await refreshSelected(true); }
    catch (e) { $("error").textContent = e.message; }
  };
  if (key) { $("key").value = key; start(); }
})();
