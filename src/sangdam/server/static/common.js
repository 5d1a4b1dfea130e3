// Shared helpers of the chat page and the console: JSON calls with the bearer (a session token or the agent's
// key, held by this tab only), SSE parsing, server-push streams.
"use strict";
const Sangdam = {
  headers(key, extra) {
    return { ...(key ? { "Authorization": "Bearer " + key } : {}), "Content-Type": "application/json", ...(extra || {}) };
  },
  // An Error carrying the HTTP status, the Korean message and the server's Retry-After (seconds).
  async failure(res) {
    const data = await res.json().catch(() => ({}));
    const e = new Error((data.error && data.error.message_ko) || res.statusText || "오류가 발생했습니다.");
    e.status = res.status; e.data = data; e.retryAfter = Number(res.headers.get("Retry-After")) || 0;
    return e;
  },
  async call(key, method, path, body) {
    const res = await fetch(path, { method, headers: Sangdam.headers(key), body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw await Sangdam.failure(res);
    return res.status === 204 ? null : res.json();
  },
  // POST with Accept: text/event-stream; calls onEvent(name, data) for each SSE event.
  async stream(key, path, body, onEvent, extraHeaders) {
    const res = await fetch(path, { method: "POST", body: JSON.stringify(body),
      headers: Sangdam.headers(key, { "Accept": "text/event-stream", ...(extraHeaders || {}) }) });
    if (!res.ok) throw await Sangdam.failure(res);
    await Sangdam.readEvents(res, onEvent);
  },
  // Parse an SSE response body until it ends; comment lines (keep-alives) are skipped.
  async readEvents(res, onEvent) {
    const reader = res.body.getReader(); const decoder = new TextDecoder(); let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) onEvent(event, JSON.parse(data));
      }
    }
  },
  // Server push: GET an SSE stream and keep it open, reconnecting with back-off; path() gives the URL for each
  // (re)connection, so the caller resumes after the last message it has. fetch, not EventSource: EventSource
  // cannot send the Authorization header. onFatal(error) when the stream can never work (401/403/404).
  listen(key, path, onEvent, onFatal) {
    let stopped = false, controller = null, delay = 500;
    (async () => {
      while (!stopped) {
        controller = new AbortController();
        try {
          const res = await fetch(path(), { headers: Sangdam.headers(key, { "Accept": "text/event-stream" }), signal: controller.signal });
          if ([401, 403, 404].includes(res.status)) { onFatal(await Sangdam.failure(res)); return; }
          if (res.ok) { delay = 500; await Sangdam.readEvents(res, onEvent); }
          else delay = Math.max(delay, 1000 * (Number(res.headers.get("Retry-After")) || 1));
        } catch (e) { if (stopped) return; }
        if (!stopped) { await Sangdam.sleep(delay); delay = Math.min(delay * 2, 15000); }
      }
    })();
    return { stop() { stopped = true; if (controller) controller.abort(); } };
  },
  sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); },
  // An id for one message send, repeated on retries so the server stores and answers it once.
  uid() { return (crypto.randomUUID && crypto.randomUUID()) || `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`; },
  el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; },
  // "3분 12초" / "45초" / "1시간 5분"
  duration(s) {
    s = Math.max(0, Math.round(s));
    if (s < 60) return `${s}초`;
    if (s < 3600) return `${Math.floor(s / 60)}분` + (s % 60 ? ` ${s % 60}초` : "");
    return `${Math.floor(s / 3600)}시간` + (Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}분` : "");
  },
};
