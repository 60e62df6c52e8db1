// The pages' script: live regions (polling with ETags), zoom/pan/search on
// the asset graph, and the launch page's live selection preview. Pages work
// without it; it only keeps them current and interactive.

const etags = new Map();

/** Fetches `url` with the last ETag; returns the text, or null when unchanged. */
async function fetchChanged(url) {
  const headers = {};
  const known = etags.get(url);
  if (known) headers["if-none-match"] = known;
  const res = await fetch(url, { headers, credentials: "same-origin" });
  if (res.status === 304) return null;
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
  const etag = res.headers.get("etag");
  if (etag) etags.set(url, etag);
  return await res.text();
}

function fragmentUrl(id) {
  const url = new URL(location.href);
  url.searchParams.set("fragment", id);
  url.hash = "";
  return url.pathname + url.search;
}

function startLive(el) {
  const id = el.dataset.live;
  const every = Number(el.dataset.every || 1000);
  const url = fragmentUrl(id);
  const tick = async () => {
    if (document.visibilityState === "visible" && !el.contains(document.activeElement)) {
      try {
        const html = await fetchChanged(url);
        if (html !== null) {
          const open = [...el.querySelectorAll("details[open]")].map((d) => d.textContent);
          el.innerHTML = html;
          // The thing shown moved on (a queued run a worker started): show its own page.
          if (el.querySelector("[data-reload]")) {
            location.reload();
            return;
          }
          for (const d of el.querySelectorAll("details")) {
            if (open.includes(d.textContent)) d.open = true;
          }
          el.dispatchEvent(new CustomEvent("live-updated", { bubbles: true }));
        }
        el.classList.remove("stale");
      } catch {
        el.classList.add("stale");
      }
    }
    timer = setTimeout(tick, every);
  };
  let timer = setTimeout(tick, every);
  // Hidden tabs do not poll; coming back shows the present at once.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    clearTimeout(timer);
    timer = setTimeout(tick, 0);
  });
}

/** `view` zoomed by `factor` around (cx, cy) (its centre by default), within sane bounds. */
function zoomed(view, full, factor, cx = view.x + view.w / 2, cy = view.y + view.h / 2) {
  const w = Math.min(full.w * 4, Math.max(200, view.w * factor));
  const h = w * (view.h / view.w);
  return { x: cx - (cx - view.x) * (w / view.w), y: cy - (cy - view.y) * (h / view.h), w, h };
}

/** The graph toolbar's +, − and fit buttons. */
function bindZoomButtons(wrap, zoom, fit) {
  for (const button of wrap.querySelectorAll("[data-zoom]")) {
    button.addEventListener("click", () => {
      const what = button.dataset.zoom;
      if (what === "in") zoom(1 / 1.5);
      else if (what === "out") zoom(1.5);
      else fit();
    });
  }
}

// Large graphs (thousands of assets) come as a canvas and their layout as
// JSON: a browser builds and paints 50,000 SVG elements in seconds, while the
// canvas draws only what is in view, in milliseconds.
const STATE_STROKE = {
  materialized: "--ok",
  failed: "--failed",
  stale: "--stale",
  check_failing: "--check",
  running: "--running",
  never: "--never",
};
const STATE_FILL = { failed: "#fef2f2", check_failing: "#fdf4ff", running: "#eff6ff" };

function startCanvasGraph(wrap, canvas) {
  const data = JSON.parse(wrap.querySelector("script[data-graph-data]").textContent);
  const css = getComputedStyle(document.documentElement);
  const colors = {};
  for (const [state, name] of Object.entries(STATE_STROKE)) {
    colors[state] = css.getPropertyValue(name).trim() || "#94a3b8";
  }
  const W = data.nodeWidth, H = data.nodeHeight;
  const nodes = data.nodes.map(([key, x, y, state, sub]) => ({ key, x, y, state, sub }));
  const byKey = new Map(nodes.map((n) => [n.key, n]));
  const edges = new Path2D(data.edges);
  const full = { w: data.width, h: data.height };
  let view = { x: 0, y: 0, w: full.w, h: full.h };
  let query = "";
  let frame = 0;
  const g = canvas.getContext("2d");
  // The view box in canvas pixels, centred as SVG's preserveAspectRatio="xMidYMid meet".
  const fit = () => {
    const r = canvas.getBoundingClientRect();
    const scale = Math.min(r.width / view.w, r.height / view.h) || 1;
    return {
      r,
      scale,
      ox: (r.width - view.w * scale) / 2 - view.x * scale,
      oy: (r.height - view.h * scale) / 2 - view.y * scale,
    };
  };
  const draw = () => {
    frame = 0;
    const dpr = globalThis.devicePixelRatio || 1;
    const { r, scale, ox, oy } = fit();
    const w = Math.round(r.width * dpr), h = Math.round(r.height * dpr);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, w, h);
    g.setTransform(dpr * scale, 0, 0, dpr * scale, dpr * ox, dpr * oy);
    const px = 1 / scale; // one screen pixel, in layout units
    const left = -ox / scale, top = -oy / scale;
    const right = left + r.width / scale, bottom = top + r.height / scale;
    const visible = (x, y, bw, bh) => x <= right && y <= bottom && x + bw >= left && y + bh >= top;
    g.lineWidth = px;
    g.font = "600 13px system-ui, sans-serif";
    for (const [name, x, y, gw, gh, size] of data.groups) {
      if (!visible(x, y, gw, gh)) continue;
      g.fillStyle = "#f8fafc";
      g.strokeStyle = "#cbd5e1";
      g.fillRect(x, y, gw, gh);
      g.strokeRect(x, y, gw, gh);
      if (13 * scale >= 6) {
        g.fillStyle = "#475569";
        g.fillText(`${name} · ${size} asset${size === 1 ? "" : "s"}`, x + 12, y + 20);
      }
    }
    g.strokeStyle = "#94a3b8";
    g.lineWidth = Math.max(1.2, px * 0.6);
    g.stroke(edges);
    const labels = 12 * scale >= 7; // readable text only
    let drawn = 0;
    for (const n of nodes) {
      if (!visible(n.x, n.y, W, H)) continue;
      drawn++;
      const hit = query !== "" && n.key.toLowerCase().includes(query);
      g.globalAlpha = query !== "" && !hit ? 0.25 : 1;
      g.fillStyle = STATE_FILL[n.state] ?? "#fff";
      g.fillRect(n.x, n.y, W, H);
      g.strokeStyle = colors[n.state] ?? colors.never;
      g.lineWidth = Math.max(hit ? 5 : 2.5, px * (hit ? 4 : 1.5));
      g.strokeRect(n.x, n.y, W, H);
      if (labels) {
        g.fillStyle = "#0f172a";
        g.font = "600 12px system-ui, sans-serif";
        g.fillText(n.key.length > 26 ? `${n.key.slice(0, 25)}…` : n.key, n.x + 10, n.y + 18);
        g.fillStyle = "#64748b";
        g.font = "10.5px system-ui, sans-serif";
        g.fillText(n.sub, n.x + 10, n.y + 33);
      }
    }
    g.globalAlpha = 1;
    canvas.dataset.drawn = String(drawn);
    canvas.dataset.scale = String(scale);
    canvas.dataset.firstDrawMs ??= String(Math.round(performance.now()));
  };
  const apply = () => {
    if (!frame) frame = requestAnimationFrame(draw);
  };
  const at = (event) => {
    const { r, scale, ox, oy } = fit();
    return { x: (event.clientX - r.left - ox) / scale, y: (event.clientY - r.top - oy) / scale };
  };
  const nodeAt = (p) =>
    nodes.find((n) => p.x >= n.x && p.x <= n.x + W && p.y >= n.y && p.y <= n.y + H);
  const zoom = (factor, cx, cy) => {
    view = zoomed(view, full, factor, cx, cy);
    apply();
  };
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const p = at(event);
    zoom(event.deltaY > 0 ? 1.2 : 1 / 1.2, p.x, p.y);
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY, view: { ...view }, moved: false };
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) {
      const n = nodeAt(at(event));
      canvas.title = n ? `${n.key}: ${n.sub}` : "";
      canvas.style.cursor = n ? "pointer" : "grab";
      return;
    }
    const { scale } = fit();
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    view = { ...drag.view, x: drag.view.x - dx / scale, y: drag.view.y - dy / scale };
    canvas.classList.add("dragging");
    apply();
  });
  canvas.addEventListener("pointerup", (event) => {
    const click = drag && !drag.moved;
    drag = null;
    canvas.classList.remove("dragging");
    if (!click) return;
    const n = nodeAt(at(event));
    if (n) location.href = `/assets/${encodeURIComponent(n.key)}`;
  });
  bindZoomButtons(wrap, zoom, () => {
    view = { x: 0, y: 0, w: full.w, h: full.h };
    apply();
  });
  const search = wrap.querySelector("[data-graph-search]");
  const count = wrap.querySelector("[data-graph-count]");
  const matches = () => nodes.filter((n) => query !== "" && n.key.toLowerCase().includes(query));
  search?.addEventListener("input", () => {
    query = search.value.trim().toLowerCase();
    const hits = matches();
    if (count) {
      count.textContent = query ? `${hits.length} match${hits.length === 1 ? "" : "es"}` : "";
    }
    const first = hits[0];
    if (first) {
      const r = canvas.getBoundingClientRect();
      const w = Math.min(full.w, 1400);
      const h = w * (r.height / Math.max(1, r.width) || 0.5);
      view = { x: first.x + W / 2 - w / 2, y: first.y + H / 2 - h / 2, w, h };
    }
    apply();
  });
  search?.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    const first = matches()[0];
    if (first) location.href = `/assets/${encodeURIComponent(first.key)}`;
  });
  new ResizeObserver(apply).observe(canvas);
  draw();
  const url = wrap.querySelector("[data-graph-states]")?.dataset.graphStates;
  if (!url) return;
  const poll = async () => {
    if (document.visibilityState === "visible") {
      try {
        const text = await fetchChanged(url);
        if (text !== null) {
          let changed = false;
          for (const [key, s] of Object.entries(JSON.parse(text).states)) {
            const n = byKey.get(key);
            if (!n || (n.state === s.state && n.sub === s.sub)) continue;
            n.state = s.state;
            n.sub = s.sub;
            changed = true;
          }
          if (changed) apply();
        }
      } catch {
        // The next poll tries again.
      }
    }
    setTimeout(poll, 1500);
  };
  setTimeout(poll, 1500);
}

function startGraph(wrap) {
  const canvas = wrap.querySelector("canvas[data-graph-canvas]");
  if (canvas) return startCanvasGraph(wrap, canvas);
  const svg = wrap.querySelector("svg.graph");
  if (!svg) return;
  const full = { w: Number(svg.dataset.width), h: Number(svg.dataset.height) };
  let view = { x: 0, y: 0, w: full.w, h: full.h };
  const apply = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  const zoom = (factor, cx, cy) => {
    view = zoomed(view, full, factor, cx, cy);
    apply();
  };
  const point = (event) => {
    const r = svg.getBoundingClientRect();
    return {
      x: view.x + ((event.clientX - r.left) / r.width) * view.w,
      y: view.y + ((event.clientY - r.top) / r.height) * view.h,
    };
  };
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const p = point(event);
    zoom(event.deltaY > 0 ? 1.2 : 1 / 1.2, p.x, p.y);
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (event) => {
    if (event.target.closest("a.node")) return;
    drag = { x: event.clientX, y: event.clientY, view: { ...view } };
    svg.setPointerCapture(event.pointerId);
    svg.classList.add("dragging");
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const r = svg.getBoundingClientRect();
    view = {
      ...drag.view,
      x: drag.view.x - ((event.clientX - drag.x) / r.width) * view.w,
      y: drag.view.y - ((event.clientY - drag.y) / r.height) * view.h,
    };
    apply();
  });
  svg.addEventListener("pointerup", () => {
    drag = null;
    svg.classList.remove("dragging");
  });
  bindZoomButtons(wrap, zoom, () => {
    view = { x: 0, y: 0, w: full.w, h: full.h };
    apply();
  });
  const nodes = [...svg.querySelectorAll("a.node")];
  const search = wrap.querySelector("[data-graph-search]");
  const count = wrap.querySelector("[data-graph-count]");
  search?.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    let first = null;
    let matches = 0;
    for (const node of nodes) {
      const hit = q !== "" && node.dataset.key.toLowerCase().includes(q);
      node.classList.toggle("match", hit);
      node.classList.toggle("dim", q !== "" && !hit);
      if (hit) {
        matches++;
        first ??= node;
      }
    }
    if (count) count.textContent = q ? `${matches} match${matches === 1 ? "" : "es"}` : "";
    if (first) {
      const rect = first.querySelector("rect");
      const x = Number(rect.getAttribute("x")), y = Number(rect.getAttribute("y"));
      const w = Math.min(full.w, 1400);
      const h = w * (svg.clientHeight / Math.max(1, svg.clientWidth) || 0.5);
      view = { x: x - w / 2, y: y - h / 2, w, h };
      apply();
    }
  });
  search?.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    const hit = svg.querySelector("a.node.match");
    if (hit) location.href = hit.getAttribute("href");
  });
  const box = wrap.querySelector("[data-graph-states]");
  if (box) {
    const byKey = new Map(nodes.map((n) => [n.dataset.key, n]));
    const url = box.dataset.graphStates;
    const poll = async () => {
      if (document.visibilityState === "visible") {
        try {
          const text = await fetchChanged(url);
          if (text !== null) {
            const { states } = JSON.parse(text);
            for (const [key, s] of Object.entries(states)) {
              const node = byKey.get(key);
              if (!node || node.dataset.state === s.state && node.dataset.sub === s.sub) continue;
              node.classList.remove(`s-${node.dataset.state}`);
              node.classList.add(`s-${s.state}`);
              node.dataset.state = s.state;
              node.dataset.sub = s.sub;
              const sub = node.querySelector("text.sub");
              if (sub) sub.textContent = s.sub;
              const title = node.querySelector("title");
              if (title) title.textContent = `${key}: ${s.why}`;
            }
          }
        } catch {
          // The next poll tries again.
        }
      }
      setTimeout(poll, 1500);
    };
    setTimeout(poll, 1500);
  }
}

function startResolve(input) {
  const box = document.querySelector("[data-resolution-box]");
  const exclude = input.form?.querySelector("[name=exclude]");
  if (!box) return;
  let timer;
  const update = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const params = new URLSearchParams({
        fragment: "resolution",
        selection: input.value,
        exclude: exclude?.value ?? "",
      });
      try {
        const html = await fetchChanged(`/launch?${params}`);
        if (html !== null) box.innerHTML = html;
      } catch {
        // Keep the last preview.
      }
    }, 200);
  };
  input.addEventListener("input", update);
  exclude?.addEventListener("input", update);
}

for (const el of document.querySelectorAll("[data-live]")) startLive(el);
for (const wrap of document.querySelectorAll("[data-graph]")) startGraph(wrap);
for (const input of document.querySelectorAll("[data-resolve]")) startResolve(input);
