// The map as a PNG image, drawn in the browser: what the planner sees (the basemap and the
// areas as drawn, at the current zoom) with its title, legend and source on it. No library and
// nothing from the internet: Leaflet's own SVG and canvas layers are copied onto one canvas, and
// a basemap tile from another site (which would taint the canvas) is left out. Text is drawn
// with the page's font (Sarabun, served by the app).
window.cddgisMapPng = (function () {
  "use strict";
  const FONT = '"Sarabun", "Noto Sans Thai", "Loma", sans-serif';

  function svgImage(svg, width, height) {
    const clone = svg.cloneNode(true);
    clone.setAttribute("xmlns", "http://www.w3.org/2000/svg");
    clone.setAttribute("width", width);
    clone.setAttribute("height", height);
    clone.style.transform = "";  // the position comes from where the original is drawn
    const url = "data:image/svg+xml;charset=utf-8," +
      encodeURIComponent(new XMLSerializer().serializeToString(clone));
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("SVG could not be drawn"));
      img.src = url;
    });
  }

  const visible = (node) => {
    const s = getComputedStyle(node);
    return s.display !== "none" && s.visibility !== "hidden" && Number(s.opacity) > 0;
  };

  // Lines of text no wider than `width`, broken at spaces (Thai names have few: long ones are
  // cut by characters).
  function wrap(ctx, text, width) {
    const lines = [];
    let line = "";
    for (const ch of String(text)) {
      if (ctx.measureText(line + ch).width > width && line) {
        const cut = line.lastIndexOf(" ");
        if (cut > 0) { lines.push(line.slice(0, cut)); line = line.slice(cut + 1) + ch; }
        else { lines.push(line); line = ch; }
      } else line += ch;
    }
    if (line) lines.push(line);
    return lines;
  }

  const PANEL = 320;  // the legend's column, beside the map (never over it: issue 23)

  // Draws the title above the map, the legend in a column beside it and the source below, so
  // nothing covers an area (the deep south under the legend, the north under the title).
  async function render(map, title, legendTitle, rows, source) {
    const container = map.getContainer();
    const frame = container.getBoundingClientRect();
    const W = Math.round(frame.width), H = Math.round(frame.height);
    const pad = 8, scale = 2;  // sharp enough to print
    const measure = document.createElement("canvas").getContext("2d");
    measure.font = `bold 18px ${FONT}`;
    const titleLines = wrap(measure, title, W + PANEL - 2 * pad);
    const top = titleLines.length * 24 + 2 * pad, bottom = 22;
    const canvas = document.createElement("canvas");
    canvas.width = (W + PANEL) * scale;
    canvas.height = (top + H + bottom) * scale;
    const ctx = canvas.getContext("2d");
    ctx.scale(scale, scale);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, W + PANEL, top + H + bottom);
    ctx.fillStyle = getComputedStyle(container).backgroundColor || "#ddd";
    ctx.fillRect(0, top, W, H);
    // Panes come in the document in the order they stack (tiles, overlays, markers).
    const nodes = container.querySelectorAll(
      ".leaflet-map-pane canvas, .leaflet-map-pane svg, .leaflet-tile-pane img");
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, top, W, H);
    ctx.clip();
    for (const node of nodes) {
      if (!visible(node) || node.closest(".leaflet-tooltip-pane, .leaflet-popup-pane")) continue;
      const r = node.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      const [x, y] = [r.left - frame.left, top + r.top - frame.top];
      try {
        if (node instanceof HTMLCanvasElement) {
          ctx.drawImage(node, x, y, r.width, r.height);
        } else if (node instanceof HTMLImageElement) {
          if (node.complete && new URL(node.src, location.href).origin === location.origin) {
            ctx.drawImage(node, x, y, r.width, r.height);
          }
        } else if (!node.parentElement.closest("svg")) {
          ctx.drawImage(await svgImage(node, r.width, r.height), x, y, r.width, r.height);
        }
      } catch (err) {
        // One layer that cannot be copied (e.g. a tainted canvas) leaves a gap, not a failure.
      }
    }
    ctx.restore();
    ctx.strokeStyle = "#9ca3af";
    ctx.strokeRect(0.5, top + 0.5, W - 1, H - 1);
    // Title, across the top.
    ctx.font = `bold 18px ${FONT}`;
    ctx.textBaseline = "top";
    ctx.fillStyle = "#111827";
    titleLines.forEach((l, i) => ctx.fillText(l, pad, pad + i * 24));
    // Legend, in its own column to the right of the map.
    ctx.font = `13px ${FONT}`;
    const lx = W + pad, width = PANEL - 2 * pad;
    const headLines = wrap(ctx, legendTitle, width);
    ctx.fillStyle = "#111827";
    headLines.forEach((l, i) => ctx.fillText(l, lx, top + pad + i * 17));
    rows.forEach(([color, label, count, kind], i) => {
      const ry = top + pad + headLines.length * 17 + 6 + i * 20;
      ctx.fillStyle = color;
      ctx.fillRect(lx, ry + 2, 16, 12);
      ctx.strokeStyle = "#6b7280";
      ctx.strokeRect(lx + 0.5, ry + 2.5, 15, 11);
      if (kind === "data-nodata") {
        ctx.beginPath();
        ctx.moveTo(lx, ry + 14);
        ctx.lineTo(lx + 16, ry + 2);
        ctx.stroke();
      }
      ctx.fillStyle = "#111827";
      ctx.fillText(`${label} (${count})`, lx + 22, ry, width - 22);
    });
    // Source and credits, along the bottom.
    ctx.font = `11px ${FONT}`;
    ctx.fillStyle = "#374151";
    const credit = `${source} · ขอบเขต: RTSD / OCHA via HDX (CC BY-IGO) · cddgis`;
    ctx.fillText(credit, pad, top + H + 5, W + PANEL - 2 * pad);
    return canvas;
  }

  // Renders and saves the PNG under `filename`.
  async function download(map, title, legendTitle, rows, source, filename) {
    if (document.fonts && document.fonts.ready) await document.fonts.ready;
    const canvas = await render(map, title, legendTitle, rows, source);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  }

  return { render, download, PANEL };
})();
