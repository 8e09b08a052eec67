// The reply box: encoding and SMS parts as you type (exactly as templates/segments.py counts
// them), and the thread's delivery statuses refreshed while the page is open.
"use strict";

(function () {
  const BASIC = new Set(
    "@£$¥èéùìòÇ\nØø\rÅå" +
      "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ" +
      " !\"#¤%&'()*+,-./" +
      "0123456789:;<=>?" +
      "¡ABCDEFGHIJKLMNO" +
      "PQRSTUVWXYZÄÖÑÜ§" +
      "¿abcdefghijklmno" +
      "pqrstuvwxyzäöñüà"
  );
  const EXTENSION = new Set("\f^{}\\[~]|€");

  function pack(widths, single, multi) {
    let total = 0;
    for (const w of widths) total += w;
    if (total === 0) return 0;
    if (total <= single) return 1;
    let segments = 1;
    let used = 0;
    for (const w of widths) {
      if (used + w > multi) {
        segments += 1;
        used = 0;
      }
      used += w;
    }
    return segments;
  }

  // {encoding, segments, units, length}: length in code points, as Python's len().
  function countSegments(text) {
    const chars = Array.from(text);
    const gsm = chars.every((ch) => BASIC.has(ch) || EXTENSION.has(ch));
    let widths;
    let segments;
    if (gsm) {
      widths = chars.map((ch) => (EXTENSION.has(ch) ? 2 : 1));
      segments = pack(widths, 160, 153);
    } else {
      widths = chars.map((ch) => (ch.codePointAt(0) > 0xffff ? 2 : 1));
      segments = pack(widths, 70, 67);
    }
    const units = widths.reduce((a, b) => a + b, 0);
    return { encoding: gsm ? "GSM-7" : "UCS-2", segments, units, length: chars.length };
  }
  window.textbackCountSegments = countSegments;

  const form = document.getElementById("reply-form");
  if (form) {
    const box = document.getElementById("reply-body");
    const counter = document.getElementById("reply-counter");
    const maxChars = Number(form.dataset.maxChars);
    const maxSegments = Number(form.dataset.maxSegments);
    const show = function () {
      // A form posts line ends as CRLF; the server counts them as one "\n", as here.
      const info = countSegments(box.value);
      const encoding = info.encoding === "GSM-7" ? "GSM-7" : "Unicode (UCS-2)";
      const parts = info.segments === 1 ? "1 SMS part" : `${info.segments} SMS parts`;
      let text = `${encoding} · ${info.length.toLocaleString("en-US")} characters · ${parts}`;
      const over = info.length > maxChars || info.segments > maxSegments;
      if (over) text += ` · too long (at most ${maxChars.toLocaleString("en-US")} characters, ${maxSegments} parts)`;
      counter.textContent = text;
      counter.classList.toggle("bad", over);
    };
    box.addEventListener("input", show);
    show();
    form.addEventListener("submit", function () {
      const button = form.querySelector("button[type=submit]");
      // One text per click; the server's one-time key refuses a doubled post anyway.
      window.setTimeout(() => { button.disabled = true; }, 0);
    });
  }

  const thread = document.getElementById("thread");
  if (thread && thread.dataset.src) {
    const refresh = async function () {
      try {
        // A lapsed login redirects to the login form: keep the thread as it is.
        const response = await fetch(thread.dataset.src, {
          credentials: "same-origin",
          redirect: "error",
        });
        if (response.ok) {
          const html = await response.text();
          if (html !== thread.dataset.last) {
            thread.dataset.last = html;
            thread.innerHTML = html; // rendered and escaped by the server
          }
        }
      } catch (e) {
        // Offline for a moment: the next tick tries again.
      }
    };
    window.setInterval(refresh, 10000);
  }
})();
