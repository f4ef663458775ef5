// The report page's timeline: draws the run's model (the JSON in
// #timeline-model, written by html.rs) as an SVG for the time window in view,
// with a time axis, one row per client and per server, operations as bars,
// network events and faults as marks on the rows they hit, and the requests
// behind the failing operations as arrows between client and server rows.
// Wheel: zoom around the pointer; drag: pan; buttons: the anomaly, the whole
// run. Self-contained: no library, no network.
(function () {
  "use strict";
  const model = JSON.parse(document.getElementById("timeline-model").textContent);
  const host = document.getElementById("timeline");
  const NS = "http://www.w3.org/2000/svg";
  const LABEL = 130, ROW = 22, TOP = 34;
  // As wide as the page allows (no horizontal scrolling), never narrower
  // than 700 px; redrawn when the window is resized.
  let WIDTH = 1600;
  function fit() {
    WIDTH = Math.max(700, Math.floor(host.clientWidth) - 2);
  }
  const height = TOP + model.rows.length * ROW + 30;
  let view = model.focus ? model.focus.slice() : [model.start, model.end];

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function titled(node, title) {
    node.appendChild(el("title", {}, title));
    return node;
  }
  function x(us) {
    return LABEL + ((us - view[0]) / Math.max(1, view[1] - view[0])) * (WIDTH - LABEL - 10);
  }
  function rowY(row) {
    return TOP + row * ROW;
  }
  function label(us) {
    const span = view[1] - view[0];
    if (span >= 5e6) return (us / 1e6).toFixed(2) + " s";
    if (span >= 5e3) return (us / 1e3).toFixed(span >= 5e4 ? 1 : 2) + " ms";
    return Math.round(us) + " us";
  }
  function step(span) {
    const raw = span / 8;
    const power = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
    return 10 * power;
  }

  function draw() {
    const svg = el("svg", {
      xmlns: NS, width: WIDTH, height: height, "font-family": "monospace", "font-size": 11, id: "timeline-svg",
    });
    const defs = el("defs", {});
    const pattern = el("pattern", {
      id: "unknown", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)",
    });
    pattern.appendChild(el("rect", { width: 6, height: 6, fill: "#ffcc80" }));
    pattern.appendChild(el("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#ef6c00", "stroke-width": 3 }));
    defs.appendChild(pattern);
    const arrow = el("marker", { id: "head", markerWidth: 6, markerHeight: 6, refX: 5, refY: 3, orient: "auto" });
    arrow.appendChild(el("path", { d: "M0,0 L6,3 L0,6 z", fill: "#37474f" }));
    defs.appendChild(arrow);
    svg.appendChild(defs);
    // Time axis, with a grid line per tick.
    const axis = el("g", { class: "axis" });
    const tick = step(view[1] - view[0]);
    for (let t = Math.ceil(view[0] / tick) * tick; t <= view[1]; t += tick) {
      axis.appendChild(el("line", { x1: x(t), x2: x(t), y1: TOP - 14, y2: height - 24, stroke: "#eee" }));
      axis.appendChild(el("text", { x: x(t), y: TOP - 18, "text-anchor": "middle", class: "tick" }, label(t)));
    }
    svg.appendChild(axis);
    model.rows.forEach((row, i) => {
      svg.appendChild(el("text", { x: 4, y: rowY(i) + 15, class: "row-label" }, row));
      svg.appendChild(el("line", { x1: LABEL, x2: WIDTH, y1: rowY(i) + ROW, y2: rowY(i) + ROW, stroke: "#f3f3f3" }));
    });
    const visible = (a, b) => b >= view[0] && a <= view[1];
    for (const line of model.lines) {
      if (!visible(line.at, line.at)) continue;
      const colour = line.kind === "loss" ? "#d32f2f" : "#8e24aa";
      svg.appendChild(titled(el("line", {
        x1: x(line.at), x2: x(line.at), y1: TOP - 6, y2: height - 24, stroke: colour,
        "stroke-dasharray": line.kind === "loss" ? "" : "4 3", class: line.kind,
      }), line.title));
    }
    for (const op of model.ops) {
      const end = op.ret === null ? model.end : op.ret;
      if (!visible(op.invoke, end)) continue;
      const left = Math.max(x(op.invoke), LABEL), right = Math.min(x(end), WIDTH);
      const attrs = {
        x: left, y: rowY(op.row) + 4, width: Math.max(right - left, 1.5), height: 14, fill: op.fill,
        stroke: op.minimal ? "#000" : "#555", "stroke-width": op.minimal ? 2.5 : 0.5,
      };
      if (op.ret === null) attrs["stroke-dasharray"] = "3 2";
      const group = el("g", { id: "op-" + op.id, class: "op " + op.class });
      group.appendChild(titled(el("rect", attrs), op.title));
      svg.appendChild(group);
    }
    for (const a of model.arrows) {
      if (!visible(a.from_at, a.to_at)) continue;
      svg.appendChild(titled(el("line", {
        x1: x(a.from_at), y1: rowY(a.from_row) + 11, x2: x(a.to_at), y2: rowY(a.to_row) + 11,
        stroke: a.lost ? "#d32f2f" : "#37474f", "stroke-width": 1.2, "marker-end": "url(#head)",
        "stroke-dasharray": a.lost ? "3 2" : "", class: "request",
      }), a.title));
    }
    for (const ev of model.events) {
      if (!visible(ev.at, ev.at)) continue;
      svg.appendChild(titled(el("text", {
        x: x(ev.at), y: rowY(ev.row) + 16, "text-anchor": "middle", fill: ev.colour,
        "font-size": 14, class: "event " + ev.kind,
      }, ev.glyph), ev.title));
    }
    host.replaceChildren(svg);
    document.getElementById("window").textContent = label(view[0]) + " to " + label(view[1]);
  }

  function clamp() {
    const span = Math.max(view[1] - view[0], 10);
    view[0] = Math.max(model.start, Math.min(view[0], model.end - span));
    view[1] = Math.min(model.end, view[0] + span);
  }
  host.addEventListener("wheel", (event) => {
    event.preventDefault();
    const rect = host.getBoundingClientRect();
    const px = Math.max(event.clientX - rect.left, LABEL);
    const at = view[0] + ((px - LABEL) / (WIDTH - LABEL - 10)) * (view[1] - view[0]);
    const factor = event.deltaY < 0 ? 0.8 : 1.25;
    view = [at - (at - view[0]) * factor, at + (view[1] - at) * factor];
    clamp();
    draw();
  }, { passive: false });
  let drag = null;
  host.addEventListener("mousedown", (event) => { drag = { x: event.clientX, view: view.slice() }; });
  window.addEventListener("mouseup", () => { drag = null; });
  window.addEventListener("mousemove", (event) => {
    if (!drag) return;
    const us = ((event.clientX - drag.x) / (WIDTH - LABEL - 10)) * (drag.view[1] - drag.view[0]);
    view = [drag.view[0] - us, drag.view[1] - us];
    clamp();
    draw();
  });
  document.getElementById("zoom-anomaly").addEventListener("click", () => {
    view = model.focus ? model.focus.slice() : [model.start, model.end];
    draw();
  });
  document.getElementById("zoom-all").addEventListener("click", () => {
    view = [model.start, model.end];
    draw();
  });
  window.addEventListener("resize", () => {
    fit();
    draw();
  });
  fit();
  draw();
})();
