// The watch floor page: border sections on a map, the alert board, a section panel.
// Everything after the first paint arrives on /alerts/stream (Server-Sent Events); the
// section picture is re-read when the stream says something changed on that section.
"use strict";

(function () {
  const LEVELS = ["low", "medium", "high", "critical"];
  const RANK = { none: -1, low: 0, medium: 1, high: 2, critical: 3 };
  const RESOLVED_SHOWN = 15;

  const state = {
    alerts: new Map(),      // alert_id -> latest state seen (open or resolved)
    threat: {},             // section_id -> threat level from /picture
    lastEventId: null,      // the stream position everything shown is true at
    received: [],           // [alert_id, version] of every `alert` event, for checks
    snapshots: 0,
    resets: [],
    heartbeatS: 15,
    lastMessageAt: 0,
    source: null,
    retryMs: 1000,
    retryTimer: null,
    openSection: null,
  };
  const layers = { sections: {}, labels: {}, plans: null, arteries: {}, parks: {} };
  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ map
  const map = L.map("map", { zoomControl: true, attributionControl: false, zoomSnap: 0.25 });
  layers.plans = L.layerGroup().addTo(map);

  function levelOf(sectionId) {
    let best = state.threat[sectionId] || "none";
    for (const a of state.alerts.values()) {
      if (a.section_id === sectionId && a.status !== "resolved" && RANK[a.level] > RANK[best]) {
        best = a.level;
      }
    }
    return best;
  }

  function colourOf(level) {
    return getComputedStyle(document.documentElement).getPropertyValue("--" + level).trim();
  }

  function paintSection(sectionId) {
    const line = layers.sections[sectionId];
    if (!line) return;
    const level = levelOf(sectionId);
    const open = [...state.alerts.values()].some(
      (a) => a.section_id === sectionId && a.status !== "resolved");
    line.setStyle({ color: colourOf(level), weight: open ? 9 : 6 });
    const el = line.getElement();
    if (el) {
      el.setAttribute("class", `section section-${sectionId} threat-${level} leaflet-interactive`);
      el.dataset.threat = level;
    }
  }

  function paintAll() {
    Object.keys(layers.sections).forEach(paintSection);
    drawPlans();
  }

  function drawPlans() {
    layers.plans.clearLayers();
    for (const a of state.alerts.values()) {
      if (a.status === "resolved" || !a.recommendation) continue;
      for (const plan of a.recommendation.arteries || []) {
        const artery = layers.arteries[plan.artery_id];
        if (!artery) continue;
        const coords = artery.coordinates;
        L.polyline(coords, {
          color: colourOf("plan"), weight: 5, dashArray: "8 6",
          className: `plan plan-${plan.artery_id}`,
        }).bindTooltip(`Block ${plan.artery_name} (${a.alert_id})`).addTo(layers.plans);
        const target = coords[coords.length - 1];
        for (const draw of plan.draws || []) {
          const park = layers.parks[draw.park_id];
          if (!park) continue;
          L.polyline([park, target], {
            color: colourOf("plan"), weight: 2, dashArray: "2 5", className: "plan-draw",
          }).bindTooltip(
            `${draw.park_name} → ${plan.artery_name}: ${draw.distance_km.toFixed(0)} km, ` +
            `${draw.travel_minutes.toFixed(0)} min`).addTo(layers.plans);
          L.circleMarker(park, { radius: 6, color: colourOf("plan"), fillOpacity: 0.9 })
            .addTo(layers.plans);
        }
      }
    }
  }

  class SignInNeeded extends Error {}

  async function loadReference() {
    const answer = await fetch("/reference.geojson", { credentials: "same-origin" });
    if (answer.status === 401) throw new SignInNeeded();
    const geo = await answer.json();
    const bounds = L.latLngBounds([]);
    for (const f of geo.features) {
      const p = f.properties;
      if (p.kind === "artery") {
        const coords = f.geometry.coordinates.map(([lon, lat]) => [lat, lon]);
        layers.arteries[p.id] = { coordinates: coords, name: p.name };
        L.polyline(coords, { color: "#4b5d70", weight: 2, className: `artery artery-${p.id}` })
          .bindTooltip(p.name).addTo(map);
      } else if (p.kind === "park") {
        const [lon, lat] = f.geometry.coordinates;
        layers.parks[p.id] = [lat, lon];
        L.circleMarker([lat, lon], {
          radius: 3, color: "#9fb3c8", weight: 1, fillOpacity: 0.6, className: `park park-${p.id}`,
        }).bindTooltip(p.name).addTo(map);
      }
    }
    for (const f of geo.features) {
      const p = f.properties;
      if (p.kind !== "section") continue;
      const coords = f.geometry.coordinates.map(([lon, lat]) => [lat, lon]);
      coords.forEach((c) => bounds.extend(c));
      const line = L.polyline(coords, {
        color: colourOf("none"), weight: 6, lineCap: "round",
        className: `section section-${p.id} threat-none`,
      }).addTo(map);
      line.bindTooltip(`${p.id} ${p.name}`);
      line.on("click", () => openPanel(p.id));
      layers.sections[p.id] = line;
      const mid = coords[Math.floor(coords.length / 2)];
      layers.labels[p.id] = L.tooltip({ permanent: true, direction: "center", className: "section-label" })
        .setLatLng(mid).setContent(p.id).addTo(map);
    }
    map.fitBounds(bounds, { padding: [20, 20] });
  }

  // ------------------------------------------------------------------ picture
  async function loadPicture(sectionId) {
    const url = sectionId ? `/picture?section=${encodeURIComponent(sectionId)}` : "/picture";
    const answer = await fetch(url);
    if (!answer.ok) return null;
    const body = await answer.json();
    for (const [id, s] of Object.entries(body.sections || {})) {
      // Nothing lit and no surge is the quiet state, drawn apart from a "low" indicator.
      const quiet = s.indicators.length === 0 && s.open_alerts.length === 0;
      state.threat[id] = quiet ? "none" : s.threat_level;
      paintSection(id);
    }
    return body;
  }

  const pending = new Set();
  let refreshTimer = null;
  function refreshSection(sectionId) {
    pending.add(sectionId);
    if (refreshTimer) return;
    refreshTimer = setTimeout(async () => {
      refreshTimer = null;
      const ids = [...pending];
      pending.clear();
      for (const id of ids) {
        const body = await loadPicture(id).catch(() => null);
        if (body && state.openSection === id) renderPanel(body.sections[id]);
      }
    }, 200);
  }

  function text(tag, content, cls) {
    const el = document.createElement(tag);
    if (content !== undefined && content !== null) el.textContent = String(content);
    if (cls) el.className = cls;
    return el;
  }

  async function openPanel(sectionId) {
    state.openSection = sectionId;
    const panel = $("panel");
    panel.hidden = false;
    panel.dataset.section = sectionId;
    const body = await loadPicture(sectionId).catch(() => null);
    if (state.openSection !== sectionId) return;
    if (!body) {
      const box = $("panel-body");
      box.replaceChildren(text("h2", sectionId), text("p", "This worker does not own the section."));
      return;
    }
    renderPanel(body.sections[sectionId]);
  }

  function renderPanel(s) {
    const box = $("panel-body");
    const level = levelOf(s.section_id);
    const parts = [text("h2", `${s.section_id} — ${s.name}`)];
    const threat = text("p", null);
    threat.append("Threat level: ", text("span", level === "none" ? "quiet" : level, `threat level-${level}`));
    threat.querySelector(".threat").style.color = colourOf(level);
    parts.push(threat);
    const table = document.createElement("table");
    table.id = "panel-counts";
    const windows = Object.keys(s.counts);
    const head = document.createElement("tr");
    head.append(text("th", ""), ...windows.map((w) => text("th", w)));
    table.append(head);
    const kinds = Object.keys(s.counts[windows[0]] || {});
    for (const k of kinds) {
      const row = document.createElement("tr");
      row.dataset.kind = k;
      row.append(text("td", k.replaceAll("_", " ")), ...windows.map((w) => text("td", s.counts[w][k])));
      table.append(row);
    }
    parts.push(table);
    const facts = document.createElement("ul");
    facts.id = "panel-facts";
    const ratio = s.surge_ratio === null ? "—" : `${s.surge_ratio.toFixed(2)}×`;
    facts.append(
      text("li", `Baseline: ${s.baseline.hourly_mean.toFixed(2)} attempts/h (${s.baseline.method})`),
      text("li", `Surge ratio (last hour ÷ baseline): ${ratio}; threshold ${s.surge_threshold}`),
      text("li", `Last report: ${s.last_report_at ? fmtTime(s.last_report_at) : "none yet"}`),
    );
    parts.push(facts);
    parts.push(text("h3", `Lit indicators (${s.indicators.length})`));
    const lit = document.createElement("ul");
    lit.id = "panel-indicators";
    for (const i of s.indicators) {
      lit.append(text("li", `${i.indicator_id}: ${i.category.replaceAll("_", " ")}, ${i.level}, confidence ${i.confidence}`));
    }
    if (!s.indicators.length) lit.append(text("li", "none"));
    parts.push(lit);
    parts.push(text("h3", "Why this level"));
    const why = document.createElement("ul");
    s.threat_reasons.forEach((r) => why.append(text("li", r)));
    parts.push(why);
    box.replaceChildren(...parts);
  }

  function fmtTime(iso) {
    return iso.replace("T", " ").slice(0, 16) + " UTC";
  }

  // ------------------------------------------------------------------ board
  function describe(a) {
    const e = a.evidence || {};
    if (a.rule === "surge") {
      const ratio = e.surge_ratio ? `, ${e.surge_ratio}× baseline` : "";
      const persons =
        e.persons_last_hour != null && e.persons_threshold
          ? `, ${e.persons_last_hour} persons (threshold ${Math.round(e.persons_threshold)})`
          : "";
      return `${e.attempts_last_hour} attempts (threshold ${Math.round(e.threshold)})${persons} in 1 h${ratio}`;
    }
    if (a.recommendation) return a.recommendation.summary;
    return (e.indicator_ids || []).join(", ");
  }

  function renderAlert(a) {
    const li = document.createElement("li");
    li.className = `alert level-${a.level} status-${a.status}`;
    li.dataset.alertId = a.alert_id;
    li.dataset.status = a.status;
    li.dataset.level = a.level;
    li.dataset.version = a.version;
    li.dataset.section = a.section_id;
    const title = text("div", null, "title");
    title.append(text("span", a.alert_id, "id"), text("span", `${a.status} · ${a.level}`, "badge"));
    li.append(title, text("div", describe(a), "detail"));
    const meta = `${a.section_id} · raised ${fmtTime(a.raised_at)} · updated ${fmtTime(a.updated_at)}`;
    li.append(text("div", meta, "meta"));
    if (a.operator_id) {
      const note = a.operator_note ? `: “${a.operator_note}”` : "";
      li.append(text("div", `${a.operator_id}${note}`, "meta operator"));
    }
    if (a.status !== "resolved") {
      const actions = text("div", null, "actions");
      const note = document.createElement("input");
      note.placeholder = "note";
      note.maxLength = 2000;
      note.className = "note";
      note.addEventListener("click", (ev) => ev.stopPropagation());
      actions.append(note);
      for (const command of ["acknowledge", "resolve"]) {
        if (command === "acknowledge" && a.status === "acknowledged") continue;
        const button = text("button", command === "acknowledge" ? "Acknowledge" : "Resolve", `cmd cmd-${command}`);
        button.type = "button";
        button.addEventListener("click", (ev) => {
          ev.stopPropagation();
          sendCommand(li, a, command, note.value);
        });
        actions.append(button);
      }
      li.append(actions);
    }
    li.addEventListener("click", () => {
      openPanel(a.section_id);
      const line = layers.sections[a.section_id];
      if (line) map.fitBounds(line.getBounds(), { maxZoom: 7, padding: [80, 80] });
    });
    return li;
  }

  async function sendCommand(li, alert, command, note) {
    li.querySelectorAll("button").forEach((b) => (b.disabled = true));
    li.querySelector(".error")?.remove();
    let problem = null;
    try {
      const answer = await fetch(`/alerts/${encodeURIComponent(alert.alert_id)}/${command}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(note ? { note } : {}),
        credentials: "same-origin",
      });
      if (!answer.ok) problem = (await answer.json().catch(() => ({}))).error || answer.statusText;
    } catch (err) {
      problem = String(err);
    }
    if (problem) {
      li.append(text("div", problem, "error"));
      li.querySelectorAll("button").forEach((b) => (b.disabled = false));
    } else {
      li.dataset.pending = command;  // the new state arrives on the stream
    }
  }

  function renderBoard() {
    const all = [...state.alerts.values()].sort((x, y) =>
      y.updated_at.localeCompare(x.updated_at) || y.alert_id.localeCompare(x.alert_id));
    const open = all.filter((a) => a.status !== "resolved");
    const resolved = all.filter((a) => a.status === "resolved").slice(0, RESOLVED_SHOWN);
    $("board").replaceChildren(...open.map(renderAlert));
    $("resolved").replaceChildren(...resolved.map(renderAlert));
    $("alert-count").textContent = String(open.length);
  }

  // ------------------------------------------------------------------ stream
  function setStatus(kind, label) {
    const el = $("stream-status");
    el.dataset.state = kind;
    el.textContent = label;
  }

  function onSnapshot(ev) {
    const data = JSON.parse(ev.data);
    state.snapshots += 1;
    state.lastEventId = ev.lastEventId;
    const resolved = [...state.alerts.values()].filter((a) => a.status === "resolved");
    state.alerts = new Map(resolved.map((a) => [a.alert_id, a]));
    for (const a of data.alerts) state.alerts.set(a.alert_id, a);
    if (data.heartbeat_s) state.heartbeatS = data.heartbeat_s;
    renderBoard();
    paintAll();
    loadPicture(null).catch(() => null);
  }

  function onAlert(ev) {
    const a = JSON.parse(ev.data);
    state.lastEventId = ev.lastEventId;
    state.received.push([a.alert_id, a.version]);
    const known = state.alerts.get(a.alert_id);
    if (!known || a.version > known.version) state.alerts.set(a.alert_id, a);
    renderBoard();
    paintSection(a.section_id);
    drawPlans();
    refreshSection(a.section_id);
  }

  function connect() {
    clearTimeout(state.retryTimer);
    if (state.source) state.source.close();
    // A new EventSource cannot set Last-Event-ID, so the position goes in the query.
    const url = state.lastEventId
      ? `/alerts/stream?last_event_id=${encodeURIComponent(state.lastEventId)}`
      : "/alerts/stream";
    const source = new EventSource(url, { withCredentials: true });
    state.source = source;
    setStatus("connecting", "connecting…");
    const seen = () => { state.lastMessageAt = Date.now(); setStatus("live", "live"); state.retryMs = 1000; };
    source.addEventListener("open", seen);
    source.addEventListener("snapshot", (ev) => { seen(); onSnapshot(ev); });
    source.addEventListener("alert", (ev) => { seen(); onAlert(ev); });
    source.addEventListener("heartbeat", (ev) => {
      seen();
      const data = JSON.parse(ev.data);
      if (data.heartbeat_s) state.heartbeatS = data.heartbeat_s;
      if (state.openSection) refreshSection(state.openSection);
    });
    source.addEventListener("reset", (ev) => {
      state.resets.push(JSON.parse(ev.data).reason);
      const msg = $("board-message");
      msg.hidden = false;
      msg.textContent = "The stream restarted from a fresh snapshot: " + JSON.parse(ev.data).reason;
    });
    source.addEventListener("error", () => {
      if (state.source !== source) return;
      setStatus("disconnected", "disconnected — reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an HTTP error): signed out, or retry ourselves from the
        // last position.
        fetch("/whoami", { credentials: "same-origin" }).then((answer) => {
          if (answer.status === 401) {
            showSignIn();
            return;
          }
          state.retryTimer = setTimeout(connect, state.retryMs);
          state.retryMs = Math.min(state.retryMs * 2, 15000);
        }, () => {
          state.retryTimer = setTimeout(connect, state.retryMs);
          state.retryMs = Math.min(state.retryMs * 2, 15000);
        });
      }
    });
  }

  function disconnect() {
    clearTimeout(state.retryTimer);
    if (state.source) state.source.close();
    state.source = null;
    setStatus("disconnected", "disconnected");
  }

  // A silent connection (no heartbeat for three periods) is a dead one.
  setInterval(() => {
    if (state.source && state.lastMessageAt &&
        Date.now() - state.lastMessageAt > 3000 * state.heartbeatS) {
      setStatus("disconnected", "disconnected — stream silent");
      state.lastMessageAt = 0;
      connect();
    }
  }, 1000);

  $("panel-close").addEventListener("click", () => {
    $("panel").hidden = true;
    state.openSection = null;
  });

  // ------------------------------------------------------------------ sign-in
  function showSignIn() {
    disconnect();
    setStatus("disconnected", "signed out");
    $("sign-in").hidden = false;
    $("token").focus();
  }

  $("sign-in").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = $("sign-in-error");
    error.hidden = true;
    const answer = await fetch("/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: $("token").value }),
      credentials: "same-origin",
    }).catch((err) => ({ ok: false, json: async () => ({ error: String(err) }) }));
    $("token").value = "";
    if (!answer.ok) {
      error.hidden = false;
      error.textContent = (await answer.json().catch(() => ({}))).error || "sign-in refused";
      return;
    }
    $("sign-in").hidden = true;
    start();
  });

  let referenceLoaded = false;
  async function start() {
    try {
      if (!referenceLoaded) {
        await loadReference();
        referenceLoaded = true;
      }
      await loadPicture(null);
    } catch (err) {
      if (err instanceof SignInNeeded) {
        showSignIn();
        return;
      }
      const msg = $("board-message");
      msg.hidden = false;
      msg.textContent = "Could not load the map: " + err;
    }
    connect();
  }

  window.watchFloor = { state, connect, disconnect, openPanel, levels: LEVELS };
  start();
})();
