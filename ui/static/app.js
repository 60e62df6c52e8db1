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

function startGraph(wrap) {
  const svg = wrap.querySelector("svg.graph");
  if (!svg) return;
  const full = { w: Number(svg.dataset.width), h: Number(svg.dataset.height) };
  let view = { x: 0, y: 0, w: full.w, h: full.h };
  const apply = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  const zoom = (factor, cx = view.x + view.w / 2, cy = view.y + view.h / 2) => {
    const w = Math.min(full.w * 4, Math.max(200, view.w * factor));
    const h = w * (view.h / view.w);
    view = { x: cx - (cx - view.x) * (w / view.w), y: cy - (cy - view.y) * (h / view.h), w, h };
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
  for (const button of wrap.querySelectorAll("[data-zoom]")) {
    button.addEventListener("click", () => {
      const what = button.dataset.zoom;
      if (what === "in") zoom(1 / 1.5);
      else if (what === "out") zoom(1.5);
      else {
        view = { x: 0, y: 0, w: full.w, h: full.h };
        apply();
      }
    });
  }
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
