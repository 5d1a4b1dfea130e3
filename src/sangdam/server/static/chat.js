// Customer web chat: streams replies (SSE), shows confirm buttons for proposed actions, polls for agent messages.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  let key = Sangdam.key("sangdam.chat.key"), conv = sessionStorage.getItem("sangdam.chat.conv"), lastIdx = -1, busy = false;

  function bubble(role, text) {
    const who = { customer: "", bot: "AI 상담원", agent: "상담사", system: "" }[role];
    const m = Sangdam.el("div", "msg " + role); m.dataset.role = role;
    if (who) m.appendChild(Sangdam.el("span", "who", who));
    const body = Sangdam.el("span", "body", text); m.appendChild(body);
    $("messages").appendChild(m); $("messages").scrollTop = 1e9;
    return body;
  }

  function showActions(pending) {
    const box = $("actions"); box.innerHTML = "";
    if (!pending) return;
    for (const choice of pending.choices || []) {
      const b = Sangdam.el("button", "secondary", choice.name); b.dataset.testid = "choice";
      b.onclick = () => send(choice.name + "로 해주세요"); box.appendChild(b);
    }
    if (!(pending.choices || []).length) {
      const yes = Sangdam.el("button", "", "네"); yes.setAttribute("data-testid", "confirm-yes"); yes.onclick = () => send("네");
      const no = Sangdam.el("button", "secondary", "아니요"); no.setAttribute("data-testid", "confirm-no"); no.onclick = () => send("아니요");
      box.append(yes, no);
    }
  }

  async function start() {
    $("login-error").textContent = "";
    try {
      if (conv) {
        const view = await Sangdam.call(key, "GET", `/api/v1/conversations/${conv}`);
        for (const m of view.messages) bubble(m.role, m.text);
        lastIdx = view.messages.length ? view.messages[view.messages.length - 1].idx : -1;
        showActions(view.pending_action);
      } else {
        conv = (await Sangdam.call(key, "POST", "/api/v1/conversations", { channel: "web" })).id;
        sessionStorage.setItem("sangdam.chat.conv", conv);
      }
    } catch (e) {
      if (e.status === 404 && conv) { conv = null; sessionStorage.removeItem("sangdam.chat.conv"); return start(); }
      $("login").hidden = false; $("chat").hidden = true; $("login-error").textContent = e.message; return;
    }
    localStorage.setItem("sangdam.chat.key", key);
    $("login").hidden = true; $("chat").hidden = false; $("new-chat").hidden = false;
    document.body.dataset.conversation = conv;
    $("text").focus();
  }

  async function send(text) {
    text = (text || "").trim();
    if (!text || busy) return;
    busy = true; $("send").disabled = true; $("error").textContent = ""; showActions(null);
    bubble("customer", text);
    let body = null, final = null;
    try {
      await Sangdam.stream(key, `/api/v1/conversations/${conv}/messages`, { text }, (event, data) => {
        if (event === "delta") { if (!body) body = bubble("bot", ""); body.textContent += data.text; $("messages").scrollTop = 1e9; }
        if (event === "done") final = data;
      });
      if (final) {
        showActions(final.pending_action);
      }
      await poll();
    } catch (e) { $("error").textContent = e.message; }
    busy = false; $("send").disabled = false; $("text").focus();
  }

  // Agent and system messages arrive through polling; customer/bot ones were drawn by send().
  async function poll() {
    if (!conv || !key) return;
    try {
      const view = await Sangdam.call(key, "GET", `/api/v1/conversations/${conv}?after=${lastIdx}`);
      for (const m of view.messages) {
        if (m.idx <= lastIdx) continue;  // a concurrent poll drew it already
        if (m.role === "agent" || m.role === "system") bubble(m.role, m.text);
        lastIdx = m.idx;
      }
      document.body.dataset.mode = view.mode;
    } catch (e) { /* transient: next poll retries */ }
  }

  $("login-btn").onclick = () => { key = $("key").value.trim(); start(); };
  $("composer").onsubmit = (ev) => { ev.preventDefault(); const t = $("text").value; $("text").value = ""; send(t); };
  $("new-chat").onclick = () => { sessionStorage.removeItem("sangdam.chat.conv"); conv = null; $("messages").innerHTML = ""; lastIdx = -1; showActions(null); start(); };
  const fromUrl = new URLSearchParams(location.search).get("key");
  if (fromUrl) key = fromUrl;
  if (key) { $("key").value = key; start(); }
  setInterval(() => { if (!busy) poll(); }, 1500);
})();
