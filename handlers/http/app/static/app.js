/* ShopBot Mini App: the small script behind /app/ (no build step, no libraries).
 *
 * It proves who is asking on every request: inside Telegram with the launch's initData
 * (`Authorization: tma ...`, read from the URL fragment as Telegram passes it), in a desktop
 * browser with the session cookie plus the page's CSRF token. It loads the views the server
 * renders (/app/ui/...), follows Telegram's theme, and handles the table's selection and
 * the board's drag (pointer events, so it works with a finger as with a mouse).
 */
(function () {
  "use strict";

  var view = document.getElementById("view");
  var toastBox = document.getElementById("toast");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var current = "/app/ui/home";

  // -- Telegram: launch parameters, theme and the events bridge (core.telegram.org/api/web-events)
  function hashParams() {
    var out = {};
    (location.hash || "").replace(/^#/, "").split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i > 0) {
        try { out[decodeURIComponent(part.slice(0, i))] = decodeURIComponent(part.slice(i + 1)); } catch (e) { /* not ours */ }
      }
    });
    return out;
  }
  var launch = hashParams();
  try {
    if (launch.tgWebAppData) sessionStorage.setItem("shopbot.launch", JSON.stringify(launch));
    else launch = JSON.parse(sessionStorage.getItem("shopbot.launch") || "{}");
  } catch (e) { /* storage off: the fragment is all we have */ }
  var initData = launch.tgWebAppData || "";

  function postEvent(type, data) {
    var payload = JSON.stringify({ eventType: type, eventData: data || {} });
    try {
      if (window.TelegramWebviewProxy) window.TelegramWebviewProxy.postEvent(type, JSON.stringify(data || {}));
      else if (window.external && "notify" in window.external) window.external.notify(payload);
      else if (window.parent !== window) window.parent.postMessage(payload, "*");
    } catch (e) { /* not inside Telegram */ }
  }

  function applyTheme(params) {
    if (!params || typeof params !== "object") return;
    var root = document.documentElement.style;
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      if (typeof value === "string" && /^#[0-9a-fA-F]{3,8}$/.test(value)) {
        root.setProperty("--tg-theme-" + key.replace(/_/g, "-"), value);
      }
    });
    var bg = params.bg_color;
    if (typeof bg === "string" && /^#[0-9a-fA-F]{6}$/.test(bg)) {
      var n = parseInt(bg.slice(1), 16);
      var light = (0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255)) / 255;
      document.documentElement.dataset.scheme = light < 0.5 ? "dark" : "light";
    }
  }
  function receiveEvent(type, data) {
    if (type === "theme_changed" && data) applyTheme(data.theme_params);
  }
  window.Telegram = window.Telegram || {};
  window.Telegram.WebView = { receiveEvent: receiveEvent };
  window.TelegramGameProxy = { receiveEvent: receiveEvent };
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || typeof event.data !== "string") return;
    try {
      var message = JSON.parse(event.data);
      if (message && message.eventType) receiveEvent(message.eventType, message.eventData);
    } catch (e) { /* someone else's message */ }
  });
  try { applyTheme(JSON.parse(launch.tgWebAppThemeParams || "null")); } catch (e) { /* no theme */ }
  postEvent("web_app_ready");
  postEvent("web_app_expand");

  // -- talking to the server
  function headers(method, json) {
    var h = {};
    if (initData) h.Authorization = "tma " + initData;
    else if (method !== "GET" && csrf) h["X-CSRF-Token"] = csrf;
    if (json) h["Content-Type"] = "application/json";
    return h;
  }
  function call(method, url, body) {
    return fetch(url, {
      method: method,
      headers: headers(method, body !== undefined),
      body: body !== undefined ? JSON.stringify(body) : undefined,
      credentials: "same-origin",
    });
  }
  function toast(text, bad) {
    toastBox.textContent = text;
    toastBox.className = bad ? "bad" : "";
    toastBox.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { toastBox.hidden = true; }, 4000);
  }
  function template(id) {
    return document.getElementById(id).innerHTML;
  }
  async function problem(response) {
    try {
      var body = await response.json();
      return body.message || body.error || response.statusText;
    } catch (e) {
      return response.statusText;
    }
  }

  async function show(url, keepScroll) {
    var response;
    try {
      response = await call("GET", url);
    } catch (e) {
      view.innerHTML = template("failed");
      return;
    }
    if (response.status === 401) {
      view.innerHTML = template("unauthorized");
      return;
    }
    if (!response.ok) {
      toast(await problem(response), true);
      if (!view.dataset.loaded) view.innerHTML = template("failed");
      return;
    }
    current = url;
    view.innerHTML = await response.text();
    view.dataset.loaded = "1";
    view.dataset.url = url;
    if (!keepScroll) window.scrollTo(0, 0);
    afterShow();
  }
  function reload() { return show(current, true); }

  async function download(url) {
    var response = await call("GET", url);
    if (!response.ok) { toast(await problem(response), true); return; }
    var blob = await response.blob();
    var name = "download";
    var match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    if (match) name = match[1];
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }

  // -- after a view is shown
  var HIDDEN_KEY = "shopbot.hiddenColumns";
  function hiddenColumns() {
    try { return JSON.parse(localStorage.getItem(HIDDEN_KEY) || "[]"); } catch (e) { return []; }
  }
  function applyColumns() {
    var table = document.getElementById("orders");
    if (!table) return;
    var hidden = hiddenColumns();
    document.querySelectorAll("[data-column-toggle]").forEach(function (box) {
      var key = box.dataset.columnToggle;
      box.checked = hidden.indexOf(key) < 0;
      table.classList.toggle("hide-" + key, hidden.indexOf(key) >= 0);
    });
  }
  function afterShow() {
    applyColumns();
    selection.clear();
    updateBulk();
    var editor = document.querySelector("[data-template]");
    if (editor) preview();
  }

  // -- the table: selection and bulk actions
  var selection = new Set();
  async function updateBulk() {
    var bar = document.getElementById("bulk");
    if (!bar) return;
    bar.hidden = selection.size === 0;
    document.getElementById("bulk-count").textContent = selection.size ? "✓ " + selection.size : "";
    var select = document.getElementById("bulk-action");
    select.length = 1;
    if (!selection.size) return;
    var response = await call("POST", "/app/api/orders/common-actions", { ids: Array.from(selection) });
    if (!response.ok) return;
    var body = await response.json();
    body.actions.forEach(function (action) {
      if (action.inputs.length) return; // a track code or a reason differs per order
      var option = document.createElement("option");
      option.value = action.action;
      option.textContent = action.title;
      option.dataset.confirm = action.confirm ? "1" : "";
      select.appendChild(option);
    });
  }
  async function bulkApply() {
    var select = document.getElementById("bulk-action");
    var option = select.options[select.selectedIndex];
    if (!select.value) return;
    if (option.dataset.confirm && !window.confirm(option.textContent + "?")) return;
    var response = await call("POST", "/app/api/orders/bulk", { ids: Array.from(selection), action: select.value });
    if (!response.ok) { toast(await problem(response), true); return; }
    var body = await response.json();
    var done = body.results.filter(function (r) { return r.ok; }).length;
    toast("✓ " + done + " / " + body.results.length, done < body.results.length);
    reload();
  }

  // -- the board: drag a card by its grip onto a column
  var drag = null;
  function boardMoves() {
    var node = document.getElementById("board-moves");
    try { return node ? JSON.parse(node.textContent) : {}; } catch (e) { return {}; }
  }
  function targetsOf(card) {
    var moves = boardMoves()[card.dataset.moves] || {};
    var from = card.closest("[data-column]").dataset.column;
    return Object.keys(moves).filter(function (status) { return status !== from; });
  }
  function columnAt(x, y) {
    var hit = document.elementFromPoint(x, y);
    return hit ? hit.closest("[data-column]") : null;
  }
  function endDrag() {
    if (!drag) return;
    if (drag.ghost) drag.ghost.remove();
    drag.card.classList.remove("dragging");
    document.querySelectorAll("[data-column]").forEach(function (c) {
      c.classList.remove("accepts", "refuses", "over");
    });
    drag = null;
  }
  document.addEventListener("pointerdown", function (event) {
    var grip = event.target.closest(".grip");
    if (!grip) return;
    event.preventDefault();
    drag = { card: grip.closest("[data-card]"), x: event.clientX, y: event.clientY, ghost: null };
  });
  document.addEventListener("pointermove", function (event) {
    if (!drag) return;
    if (!drag.ghost) {
      if (Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) < 5) return;
      var targets = targetsOf(drag.card);
      var from = drag.card.closest("[data-column]");
      document.querySelectorAll("[data-column]").forEach(function (column) {
        if (column === from) return;
        column.classList.add(targets.indexOf(column.dataset.column) >= 0 ? "accepts" : "refuses");
      });
      drag.ghost = drag.card.cloneNode(true);
      drag.ghost.classList.add("ghost");
      document.body.appendChild(drag.ghost);
      drag.card.classList.add("dragging");
    }
    drag.ghost.style.left = event.clientX + 8 + "px";
    drag.ghost.style.top = event.clientY + 8 + "px";
    document.querySelectorAll("[data-column].over").forEach(function (c) { c.classList.remove("over"); });
    var column = columnAt(event.clientX, event.clientY);
    if (column) column.classList.add("over");
  });
  document.addEventListener("pointerup", function (event) {
    if (!drag) return;
    var card = drag.card;
    var started = !!drag.ghost;
    var column = started ? columnAt(event.clientX, event.clientY) : null;
    var accepted = column && column.classList.contains("accepts");
    var refused = column && column.classList.contains("refuses");
    endDrag();
    if (accepted) moveCard(card, column.dataset.column);
    else if (refused) toast(document.getElementById("board").dataset.refused || "✕", true);
  });
  document.addEventListener("pointercancel", endDrag);

  var pending = null;
  function field(id, show) {
    document.getElementById(id).hidden = !show;
  }
  function fillMoveForm() {
    var form = document.getElementById("move-form");
    var select = document.getElementById("move-action");
    var move = pending.options[select.selectedIndex] || pending.options[0];
    var reasons = document.getElementById("move-reason");
    reasons.length = 0;
    (move.reasons || []).forEach(function (reason) {
      var option = document.createElement("option");
      option.value = reason.code;
      option.textContent = reason.title;
      reasons.appendChild(option);
    });
    field("move-choice-label", pending.options.length > 1);
    field("move-reason-label", move.inputs.indexOf("reason") >= 0);
    field("move-carrier-label", move.inputs.indexOf("carrier") >= 0);
    field("move-track-label", move.inputs.indexOf("track_code") >= 0);
    field("move-comment-label", move.inputs.indexOf("comment") >= 0 || move.inputs.indexOf("reason") >= 0);
    field("move-confirm", move.confirm);
    document.getElementById("move-title").textContent = "#" + pending.card.dataset.number + " → " + move.title;
    return form;
  }
  function moveCard(card, status) {
    var options = (boardMoves()[card.dataset.moves] || {})[status] || [];
    if (!options.length) return;
    var only = options[0];
    if (options.length === 1 && !only.inputs.length && !only.confirm) {
      act(card.dataset.card, { action: only.action, version: +card.dataset.version });
      return;
    }
    pending = { card: card, options: options };
    var select = document.getElementById("move-action");
    select.length = 0;
    options.forEach(function (move, i) {
      var option = document.createElement("option");
      option.value = i;
      option.textContent = move.title;
      select.appendChild(option);
    });
    fillMoveForm().showModal();
  }
  async function act(orderId, body) {
    var response = await call("POST", "/app/api/orders/" + orderId + "/actions", body);
    if (response.ok) toast("✓");
    else toast(await problem(response), true);
    reload();
    return response.ok;
  }

  // -- the template editor: a live preview of the PDF as it is typed
  async function preview() {
    var editor = document.querySelector("[data-template]");
    if (!editor) return;
    var body = document.getElementById("template-body").value;
    var response = await call("POST", "/app/api/templates/preview", {
      shop: +editor.dataset.shop, kind: editor.dataset.kind, language: editor.dataset.language, body: body,
    });
    var problemBox = document.getElementById("template-problem");
    if (response.ok) {
      problemBox.hidden = true;
      var frame = document.getElementById("template-preview");
      if (frame.dataset.url) URL.revokeObjectURL(frame.dataset.url);
      frame.dataset.url = URL.createObjectURL(await response.blob());
      frame.src = frame.dataset.url;
    } else {
      problemBox.hidden = false;
      problemBox.textContent = await problem(response);
    }
  }
  var previewTimer = null;
  document.addEventListener("input", function (event) {
    if (event.target.id === "template-body") {
      clearTimeout(previewTimer);
      previewTimer = setTimeout(preview, 800);
    }
  });

  // -- the workflow editor: a drag puts a status in its place; each form is one edit
  function workflowShop() {
    var editor = document.getElementById("workflow-editor");
    return editor ? +editor.dataset.shop : 0;
  }
  async function workflowCall(path, body) {
    var response = await call("POST", "/app/api/workflow/" + path, Object.assign({ shop: workflowShop() }, body));
    if (response.ok) { toast("✓"); reload(); return response; }
    var text;
    try {
      var answer = await response.json();
      text = (answer.problems && answer.problems.length ? answer.problems.join("; ") : answer.message) || response.statusText;
    } catch (e) { text = response.statusText; }
    toast(text, true);
    return response;
  }
  var statusDrag = null;
  function statusAt(x, y) {
    var hit = document.elementFromPoint(x, y);
    return hit ? hit.closest("#wf-statuses [data-status]") : null;
  }
  document.addEventListener("pointerdown", function (event) {
    var grip = event.target.closest("#wf-statuses .grip");
    if (!grip) return;
    event.preventDefault();
    statusDrag = { item: grip.closest("[data-status]"), x: event.clientX, y: event.clientY, moved: false };
  });
  document.addEventListener("pointermove", function (event) {
    if (!statusDrag) return;
    if (Math.abs(event.clientX - statusDrag.x) + Math.abs(event.clientY - statusDrag.y) < 5) return;
    statusDrag.moved = true;
    statusDrag.item.classList.add("dragging");
    document.querySelectorAll("#wf-statuses .over").forEach(function (i) { i.classList.remove("over"); });
    var over = statusAt(event.clientX, event.clientY);
    if (over && over !== statusDrag.item) over.classList.add("over");
  });
  document.addEventListener("pointerup", function (event) {
    if (!statusDrag) return;
    var item = statusDrag.item, moved = statusDrag.moved;
    statusDrag = null;
    item.classList.remove("dragging");
    document.querySelectorAll("#wf-statuses .over").forEach(function (i) { i.classList.remove("over"); });
    var target = moved ? statusAt(event.clientX, event.clientY) : null;
    if (!target || target === item) return;
    workflowCall("edit", { edit: "place", code: item.dataset.status, position: +target.dataset.position });
  });
  document.addEventListener("pointercancel", function () { statusDrag = null; });
  function workflowEdit(form) {
    var body = { edit: form.dataset.wfEdit };
    if (form.dataset.code) body.code = form.dataset.code;
    new FormData(form).forEach(function (value, key) { body[key] = String(value); });
    if (body.edit === "responsible" && !body.role) body.role = null;
    if (body.edit === "add") {
      var step = (body.step || "").split(" ");
      body.title = {}; body.title[document.getElementById("workflow-editor").dataset.language || "ru"] = body.title_text || "";
      body.before = step[0]; body.after = step[1];
      delete body.step; delete body.title_text;
    }
    return workflowCall("edit", body);
  }

  // -- clicks, forms and changes, for every view
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-view]");
    if (link) { event.preventDefault(); show(link.getAttribute("href")); return; }
    var file = event.target.closest("a[data-download]");
    if (file) { event.preventDefault(); download(file.getAttribute("href")); return; }
    var more = event.target.closest("[data-more]");
    if (more) {
      event.preventDefault();
      call("GET", more.dataset.more).then(function (r) { return r.ok ? r.text() : ""; }).then(function (html) {
        var row = more.closest("tr");
        row.insertAdjacentHTML("afterend", html);
        row.remove();
        applyColumns();
      });
      return;
    }
    if (event.target.closest("[data-bulk-apply]")) { bulkApply(); return; }
    if (event.target.closest("[data-bulk-print]")) {
      var kind = document.getElementById("bulk-document").value;
      download("/app/api/orders/documents?kind=" + kind + "&ids=" + Array.from(selection).join(","));
      return;
    }
    if (event.target.closest("[data-close]")) { event.target.closest("dialog").close(); return; }
    if (event.target.closest("[data-logout]")) {
      call("POST", "/app/logout").then(function () { location.reload(); });
      return;
    }
    if (event.target.closest("[data-wf-save]")) { workflowCall("save", {}); return; }
    if (event.target.closest("[data-wf-discard]")) { workflowCall("discard", {}); return; }
    if (event.target.closest("[data-template-save]")) {
      var editor = document.querySelector("[data-template]");
      call("POST", "/app/api/templates/save", {
        shop: +editor.dataset.shop, kind: editor.dataset.kind, language: editor.dataset.language,
        body: document.getElementById("template-body").value,
      }).then(async function (r) { if (r.ok) { toast("✓"); reload(); } else toast(await problem(r), true); });
    }
  });
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-autosubmit]")) { target.form.requestSubmit(); return; }
    if (target.matches("[data-column-toggle]")) {
      var hidden = hiddenColumns().filter(function (k) { return k !== target.dataset.columnToggle; });
      if (!target.checked) hidden.push(target.dataset.columnToggle);
      try { localStorage.setItem(HIDDEN_KEY, JSON.stringify(hidden)); } catch (e) { /* private mode */ }
      applyColumns();
      return;
    }
    if (target.matches("[data-select]")) {
      var id = +target.dataset.select;
      if (target.checked) selection.add(id); else selection.delete(id);
      updateBulk();
      return;
    }
    if (target.matches("[data-select-all]")) {
      document.querySelectorAll("[data-select]").forEach(function (box) {
        box.checked = target.checked;
        if (target.checked) selection.add(+box.dataset.select); else selection.delete(+box.dataset.select);
      });
      updateBulk();
      return;
    }
    if (target.id === "move-action") fillMoveForm();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("[data-filters]")) {
      event.preventDefault();
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, key) { if (value) params.append(key, value); });
      show(form.getAttribute("action") + "?" + params.toString());
      return;
    }
    if (form.matches("[data-move-form]")) {
      if (event.submitter && event.submitter.value !== "ok") return;
      var select = document.getElementById("move-action");
      var move = pending.options[select.selectedIndex] || pending.options[0];
      var inputs = {};
      ["reason", "carrier", "track_code", "comment"].forEach(function (name) {
        var value = form.elements[name].value.trim();
        var shown = !form.elements[name].closest("label").hidden;
        if (shown && value) inputs[name] = value;
      });
      act(pending.card.dataset.card, { action: move.action, inputs: inputs, version: +pending.card.dataset.version });
      return;
    }
    if (form.matches("[data-action]")) {
      event.preventDefault();
      if (form.dataset.confirm && !window.confirm(form.querySelector("button").textContent + "?")) return;
      var page = form.closest("[data-order-page]");
      var values = {};
      new FormData(form).forEach(function (value, key) { if (value) values[key] = String(value); });
      act(page.dataset.orderPage, { action: form.dataset.action, inputs: values, version: +page.dataset.version });
      return;
    }
    if (form.matches("[data-wf-edit]")) {
      event.preventDefault();
      workflowEdit(form);
      return;
    }
    if (form.matches("[data-wf-move]")) {
      event.preventDefault();
      var mapping = {};
      form.querySelectorAll("[data-mapping]").forEach(function (select) { mapping[select.name] = select.value; });
      workflowCall("move-orders", { mapping: mapping });
      return;
    }
    if (form.matches("[data-post]")) {
      event.preventDefault();
      var text = form.elements.text.value;
      call("POST", form.dataset.post, { text: text }).then(async function (r) {
        if (r.ok) { toast("✓"); reload(); } else toast(await problem(r), true);
      });
    }
  });

  show(current);
})();
