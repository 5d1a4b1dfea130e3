// Shared helpers of the chat page and the console: the stored key, JSON calls, SSE parsing.
"use strict";
const Sangdam = {
  key(name) { return localStorage.getItem(name) || ""; },
  async call(key, method, path, body) {
    const res = await fetch(path, {
      method, headers: { "Authorization": "Bearer " + key, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) { const e = new Error((data.error && data.error.message_ko) || res.statusText); e.status = res.status; e.data = data; throw e; }
    return data;
  },
  // POST with Accept: text/event-stream; calls onEvent(name, data) for each SSE event.
  async stream(key, path, body, onEvent) {
    const res = await fetch(path, {
      method: "POST", body: JSON.stringify(body),
      headers: { "Authorization": "Bearer " + key, "Content-Type": "application/json", "Accept": "text/event-stream" },
    });
    if (!res.ok) {
      const data = await res.json().catch(() => ({}));
      const e = new Error((data.error && data.error.message_ko) || res.statusText); e.status = res.status; throw e;
    }
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
        onEvent(event, data ? JSON.parse(data) : null);
      }
    }
  },
  el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; },
};
