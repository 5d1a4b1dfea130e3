// Customer web chat. No key: the page opens its own short-lived session (POST /api/v1/sessions), kept in this
// tab's sessionStorage (nothing that outlives the tab, never the URL) and sent as the bearer; it owns the chat. An
// operator page on the same origin that logged its customer in may leave a signed login assertion in
// sessionStorage["sangdam.chat.assertion"]: it is used once, to open a session bound to that customer.
// One server-push stream (SSE) brings every message of the conversation — agent and system lines, and the
// transcript after a reload; a send streams its checked reply and shows buttons for proposals. While the LLM agent
// works on a send, the stream's `progress` lines ("요금 내역을 확인하고 있어요…") show in one line that the reply
// replaces when it starts; its `draft` (the answer's sentences, each verified, while the model writes it) shows in
// the reply's bubble until the final reply replaces it; `delta` pieces of a reply this tab did not ask for are drawn
// as they come.
// A send shows its text at once (faded until the server has it) and is retried with the same Idempotency-Key
// (stored and answered once); if every try fails the text goes back into the input box. The server keeps only
// masked text; this tab remembers what it typed (sessionStorage, by message index), so after a reload the customer
// still sees their own words — no one else ever gets them. A session that has ended starts a new chat.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const TRIES = 5;
  const SESSION = "sangdam.chat.session", CONV = "sangdam.chat.conv", ASSERTION = "sangdam.chat.assertion";
  let key = sessionStorage.getItem(SESSION) || "", conv = sessionStorage.getItem(CONV);
  let lastIdx = -1, sending = false, held = [], drawn = new Set(), listener = null, shownPending = null, shownOptions = [];
  let progressLine = null, replying = false, streaming = {};  // streaming: idx → bubble of a reply arriving in pieces
  let draft = null;  // the bubble of this tab's reply while the agent still writes it (verified sentences)

  // What this tab typed, by message index (this browser tab only; never sent back to the server).
  const typed = {
    name: () => `sangdam.chat.typed.${conv}`,
    all() { try { return JSON.parse(sessionStorage.getItem(typed.name()) || "{}"); } catch (e) { return {}; } },
    get(idx) { return typed.all()[idx]; },
    put(idx, text) { const all = typed.all(); all[idx] = text; sessionStorage.setItem(typed.name(), JSON.stringify(all)); },
  };

  function bubble(role, text, idx) {
    const who = { customer: "", bot: "AI 상담원", agent: "상담사", system: "" }[role];
    const m = Sangdam.el("div", "msg " + role); m.dataset.role = role;
    if (idx !== undefined) { m.dataset.idx = idx; drawn.add(idx); }
    if (who) m.appendChild(Sangdam.el("span", "who", who));
    m.appendChild(Sangdam.el("span", "body", text));
    $("messages").appendChild(m); $("messages").scrollTop = 1e9;
    return m;
  }
  const draw = (m) => bubble(m.role, (m.role === "customer" && typed.get(m.idx)) || m.text, m.idx);

  // The agent's progress during this tab's send: one line, updated in place, gone when the reply starts.
  function showProgress(text) {
    if (!progressLine) {
      progressLine = Sangdam.el("div", "msg progress"); progressLine.dataset.testid = "progress";
      progressLine.setAttribute("role", "status"); $("messages").appendChild(progressLine);
    }
    progressLine.textContent = text; $("messages").scrollTop = 1e9;
  }
  function clearProgress() { if (progressLine) progressLine.remove(); progressLine = null; }
  // The final reply takes the draft's bubble (its text replaced by the reply's); a send that ends without one
  // drops the draft.
  function adoptDraft() {
    const b = draft; draft = null;
    if (b) { b.classList.remove("draft"); delete b.dataset.testid; b.querySelector(".body").textContent = ""; }
    return b;
  }
  function dropDraft() { if (draft) draft.remove(); draft = null; }

  // Buttons for what the last reply asks: the options to pick from (a list of priced options), else 네/아니요 for a
  // proposal.
  function showActions(pending, options) {
    shownPending = pending || null; shownOptions = options || [];
    const box = $("actions"); box.innerHTML = "";
    for (const choice of shownOptions) {
      const b = Sangdam.el("button", "secondary", choice.name); b.dataset.testid = "choice";
      b.onclick = () => send(choice.name + "로 해주세요"); box.appendChild(b);
    }
    if (pending && !shownOptions.length) {
      const yes = Sangdam.el("button", "", "네"); yes.setAttribute("data-testid", "confirm-yes"); yes.onclick = () => send("네");
      const no = Sangdam.el("button", "secondary", "아니요"); no.setAttribute("data-testid", "confirm-no"); no.onclick = () => send("아니요");
      box.append(yes, no);
    }
  }

  // Everything stored for the conversation arrives here; a send in flight draws its own message and reply.
  function onEvent(event, data) {
    if (event === "message") {
      lastIdx = Math.max(lastIdx, data.idx);
      const pieces = streaming[data.idx];
      if (pieces) { pieces.querySelector(".body").textContent = data.text; delete streaming[data.idx]; return; }
      if (drawn.has(data.idx)) return;
      if (sending && (data.role === "customer" || data.role === "bot")) { held.push(data); return; }
      draw(data);
    } else if (event === "progress") {
      if (sending && !replying) showProgress(data.text);  // late lines after the reply started are dropped
    } else if (event === "draft") {  // this tab's send: the answer as the agent writes it, until the reply comes
      if (!sending) return;
      clearProgress(); replying = true;
      if (!draft) { draft = bubble("bot", ""); draft.classList.add("draft"); draft.dataset.testid = "draft"; }
      draft.querySelector(".body").textContent += data.text; $("messages").scrollTop = 1e9;
    } else if (event === "delta") {  // this tab's own send gets its pieces from the send itself
      if (sending || drawn.has(data.idx)) return;
      if (!streaming[data.idx]) streaming[data.idx] = bubble("bot", "", data.idx);
      streaming[data.idx].querySelector(".body").textContent += data.text; $("messages").scrollTop = 1e9;
    } else if (event === "state") {
      document.body.dataset.mode = data.mode;
      if (!sending) showActions(data.pending_action, data.options);
      document.body.dataset.conversation = conv;  // connected: the transcript so far is on screen
    }
  }

  function connect() {
    if (listener) listener.stop();
    listener = Sangdam.listen(key, () => `/api/v1/conversations/${conv}/events?after=${lastIdx}`, onEvent, (e) => {
      if (e.status === 401) ended();
      else if (e.status === 404) { reset(); start(); }
      else showConnectError(e.message);
    });
  }

  function showConnectError(message) {
    if (listener) listener.stop();
    $("connecting").hidden = false; $("chat").hidden = true;
    $("connect-error").textContent = message; $("retry").hidden = false;
  }

  function reset() {
    if (listener) listener.stop();
    sessionStorage.removeItem(CONV); conv = null;
    $("messages").innerHTML = ""; lastIdx = -1; drawn = new Set(); held = []; showActions(null);
    progressLine = null; streaming = {}; draft = null;
    delete document.body.dataset.conversation;
  }

  function forgetSession() { sessionStorage.removeItem(SESSION); key = ""; }

  // The session has ended (idle too long, or at its maximum age): a new session and a new chat.
  function ended() {
    forgetSession(); reset();
    $("notice").textContent = "상담 연결 시간이 만료되어 새 상담을 시작했습니다. 이전 대화는 이 화면에서 더 이상 볼 수 없습니다.";
    start();
  }

  async function openSession() {
    const assertion = sessionStorage.getItem(ASSERTION);
    sessionStorage.removeItem(ASSERTION);  // used once
    const opened = await retrying(() => Sangdam.call("", "POST", "/api/v1/sessions", assertion ? { assertion } : {}));
    key = opened.token; sessionStorage.setItem(SESSION, key);
    document.body.dataset.verified = opened.verified ? "yes" : "no";
  }

  async function start() {
    $("connect-error").textContent = ""; $("retry").hidden = true;
    try {
      if (!key) await openSession();
      if (!conv) {
        conv = (await retrying(() => Sangdam.call(key, "POST", "/api/v1/conversations", { channel: "web" }))).id;
        sessionStorage.setItem(CONV, conv);
      }
    } catch (e) {
      if (e.status === 401 && key) { forgetSession(); reset(); return start(); }  // a stored session that ended
      showConnectError(e.message); return;
    }
    $("connecting").hidden = true; $("chat").hidden = false; $("new-chat").hidden = false;
    connect();
    $("text").focus();
  }

  // Network failures, 429, a busy conversation and 5xx are worth another try; a refused message is not.
  const retryable = (e) => !e.status || e.status === 429 || e.status >= 500 ||
    (e.status === 409 && e.data && e.data.error && e.data.error.code === "busy");

  async function retrying(attempt, onRetry) {
    for (let n = 1; ; n++) {
      try { return await attempt(); } catch (e) {
        if (!retryable(e) || n >= TRIES) throw e;
        if (onRetry) onRetry(n);
        await Sangdam.sleep(Math.max(1000 * (e.retryAfter || 0), 500 * 2 ** (n - 1)));
      }
    }
  }

  function setBusy(busy) { sending = busy; $("send").disabled = busy; }

  async function send(text, fromBox) {
    text = (text || "").trim();
    if (!text || sending) return;
    setBusy(true); $("error").textContent = ""; replying = false;
    const offered = shownPending, offeredOptions = shownOptions; showActions(null);
    const mine = bubble("customer", text); mine.classList.add("pending");
    const sendId = Sangdam.uid();
    let reply = null;
    try {
      await retrying(async () => {
        if (reply) { reply.remove(); reply = null; }  // half a reply from an attempt that broke off
        let final = null;
        await Sangdam.stream(key, `/api/v1/conversations/${conv}/messages`, { text }, (event, data) => {
          if (event === "meta") {
            if (data.customer_idx !== null) { mine.dataset.idx = data.customer_idx; drawn.add(data.customer_idx); typed.put(data.customer_idx, text); }
            if (data.reply_idx !== null) drawn.add(data.reply_idx);
          } else if (event === "delta") {
            if (!reply) { clearProgress(); replying = true; reply = adoptDraft() || bubble("bot", ""); }
            reply.querySelector(".body").textContent += data.text; $("messages").scrollTop = 1e9;
          } else if (event === "done") final = data;
        }, { "Idempotency-Key": sendId });
        if (!final) throw new Error("응답이 중간에 끊겼습니다.");
        if (reply && final.reply_idx !== null) reply.dataset.idx = final.reply_idx;
        document.body.dataset.mode = final.mode;
        showActions(final.pending_action, final.options);
      }, (n) => { $("error").textContent = `메시지를 보내지 못해 다시 보내는 중입니다… (${n}/${TRIES - 1})`; });
      mine.classList.remove("pending"); $("error").textContent = "";
    } catch (e) {
      mine.remove(); if (reply) reply.remove(); dropDraft();
      if (fromBox) $("text").value = [text, $("text").value.trim()].filter(Boolean).join(" ");  // nothing typed is lost
      showActions(offered, offeredOptions);
      $("error").textContent = `${e.message} 보내지 못한 내용은 그대로 두었으니 다시 보내 주세요.`;
      if (e.status === 401) { setBusy(false); ended(); return; }
    }
    clearProgress(); dropDraft(); replying = false;
    setBusy(false);
    const later = held; held = [];
    for (const m of later) if (!drawn.has(m.idx)) draw(m);
    $("text").focus();
  }

  $("composer").onsubmit = (ev) => {
    ev.preventDefault();
    if (sending || !$("text").value.trim()) return;  // the next message waits in the box until this one is done
    const text = $("text").value; $("text").value = ""; send(text, true);
  };
  $("new-chat").onclick = () => {  // a new chat is a new session: the old one's token stops working
    if (key) Sangdam.call(key, "DELETE", "/api/v1/sessions/current").catch(() => {});
    forgetSession(); reset(); $("notice").textContent = ""; start();
  };
  $("retry").onclick = () => start();
  start();
})();
