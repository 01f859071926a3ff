// Bashgah's Mini App: shows the screens the server renders (web/screens.py), inside Telegram.
// It knows nothing of loyalty: it sends Telegram's launch data with every request, puts the
// screen's HTML in the page, and wires Telegram's MainButton, BackButton and haptics to it.
"use strict";
(() => {
  const tg = window.Telegram.WebApp;
  const view = document.getElementById("view");
  const history = []; // the screens behind this one, for Telegram's BackButton
  let current = null; // {url (null for a POST's answer), screen, key}
  let timer = null;
  let busy = false;
  let confirming = false;

  const headers = (extra) => ({ Authorization: "tma " + tg.initData, ...extra });

  async function call(url, options) {
    const response = await fetch(url, { ...options, headers: headers(options && options.headers) });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw Object.assign(new Error(body.detail || body.title || response.status), { body, status: response.status });
    return body;
  }

  function newKey() {
    return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + "-" + Math.random().toString(16).slice(2);
  }

  function show(url, screen) {
    clearTimeout(timer);
    document.documentElement.lang = screen.lang;
    document.documentElement.dir = screen.dir;
    view.innerHTML = screen.html;
    current = { url, screen, key: newKey() };
    const button = screen.main_button;
    tg.MainButton.hideProgress();
    if (button) {
      tg.MainButton.setText(button.text);
      tg.MainButton.enable();
      tg.MainButton.show();
    } else {
      tg.MainButton.hide();
    }
    if (history.length) tg.BackButton.show(); else tg.BackButton.hide();
    if (screen.haptic) tg.HapticFeedback.notificationOccurred(screen.haptic);
    if (screen.refresh) schedule(screen.refresh);
    window.scrollTo(0, 0);
  }

  function refuse(error) {
    clearTimeout(timer);
    const box = document.createElement("div");
    box.className = "problem";
    box.setAttribute("role", "alert");
    box.textContent = error.message;
    view.replaceChildren(box);
    tg.MainButton.hide();
  }

  async function go(url, { push = true } = {}) {
    try {
      const screen = await call(url);
      if (push && current && current.url) history.push(current.url);
      show(url, screen);
    } catch (error) {
      if (error.status === 401 || error.status === 403 || !current) refuse(error);
      else tg.showAlert(error.message);
    }
  }

  // Parts of the screen answered again: each element of that id replaced by its new HTML.
  function swap(parts) {
    for (const [id, html] of Object.entries(parts)) {
      const target = document.getElementById(id);
      if (target) target.outerHTML = html;
    }
  }

  function schedule(refresh) {
    timer = setTimeout(async () => {
      try {
        const part = await call(refresh.url);
        swap(part.parts);
        schedule(part.refresh);
      } catch (error) {
        schedule({ url: refresh.url, seconds: 15 }); // offline for a moment: try again soon
      }
    }, refresh.seconds * 1000);
  }

  async function post(url, key, body) {
    const screen = await call(url, {
      method: "POST",
      headers: { "Idempotency-Key": key, "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    history.length = 0; // an action done is a new start: back leads nowhere it could redo
    show(null, screen); // an answer to a POST: no address to come back to
  }

  async function act(url, key, body) {
    if (busy) return; // a second tap while the first is on its way: the same request, once
    busy = true;
    tg.MainButton.showProgress(false);
    try {
      await post(url, key, body);
    } catch (error) {
      tg.MainButton.hideProgress();
      tg.showAlert(error.message);
    } finally {
      busy = false;
    }
  }

  tg.MainButton.onClick(() => {
    const button = current && current.screen.main_button;
    if (!button || busy || confirming) return; // one question at a time, one request at a time
    const { key } = current;
    confirming = true;
    tg.showConfirm(button.confirm, (ok) => {
      confirming = false;
      if (ok) act(button.post, key);
    });
  });

  tg.BackButton.onClick(() => {
    const previous = history.pop();
    if (previous) go(previous, { push: false });
  });

  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-go]");
    if (!link) return;
    event.preventDefault();
    go(link.dataset.go, { push: !link.hasAttribute("data-replace") });
  });

  // A button with data-act makes its choice (data-body, JSON) at once; the answer is the screen.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-act]");
    if (button) act(button.dataset.act, newKey(), JSON.parse(button.dataset.body));
  });

  // A form with data-post sends its fields as JSON, once per screen shown.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-post]");
    if (!form) return;
    event.preventDefault();
    act(form.dataset.post, current.key, Object.fromEntries(new FormData(form)));
  });

  // An input with data-live asks the server as the user types and shows the answer beside it.
  let typing = null;
  document.addEventListener("input", (event) => {
    const input = event.target.closest("[data-live]");
    if (!input) return;
    clearTimeout(typing);
    typing = setTimeout(async () => {
      const target = document.getElementById(input.dataset.target);
      const url = input.dataset.live + "?" + new URLSearchParams({ q: input.value });
      try {
        swap((await call(url)).parts);
      } catch (error) {
        if (target) target.textContent = error.message;
      }
    }, 250);
  });

  tg.ready();
  tg.expand();
  // A link t.me/<bot>/<app>?startapp=staff opens the owner's dashboard in the app's one URL.
  const start = tg.initDataUnsafe.start_param === "staff" ? "/app/api/staff" : null;
  go(start || document.body.dataset.home, { push: false });
})();
