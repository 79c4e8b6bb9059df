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

  function box(ctx, x, y, w, h) {
    ctx.fillStyle = "rgba(255,255,255,0.92)";
    ctx.strokeStyle = "#9ca3af";
    ctx.lineWidth = 1;
    ctx.fillRect(x, y, w, h);
    ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
  }

  // Draws the map, title, legend and source onto a new canvas.
  async function render(map, title, legendTitle, rows, source) {
    const container = map.getContainer();
    const frame = container.getBoundingClientRect();
    const W = Math.round(frame.width), H = Math.round(frame.height);
    const scale = 2;  // sharp enough to print
    const canvas = document.createElement("canvas");
    canvas.width = W * scale;
    canvas.height = H * scale;
    const ctx = canvas.getContext("2d");
    ctx.scale(scale, scale);
    ctx.fillStyle = getComputedStyle(container).backgroundColor || "#ddd";
    ctx.fillRect(0, 0, W, H);
    // Panes come in the document in the order they stack (tiles, overlays, markers).
    const nodes = container.querySelectorAll(
      ".leaflet-map-pane canvas, .leaflet-map-pane svg, .leaflet-tile-pane img");
    for (const node of nodes) {
      if (!visible(node) || node.closest(".leaflet-tooltip-pane, .leaflet-popup-pane")) continue;
      const r = node.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      const [x, y] = [r.left - frame.left, r.top - frame.top];
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
    const pad = 8;
    // Title, top left.
    ctx.font = `bold 16px ${FONT}`;
    ctx.textBaseline = "top";
    const titleLines = wrap(ctx, title, Math.min(W * 0.6, 520) - 2 * pad);
    const tw = Math.max(...titleLines.map((l) => ctx.measureText(l).width)) + 2 * pad;
    box(ctx, pad, pad, tw, titleLines.length * 21 + 2 * pad - 4);
    ctx.fillStyle = "#111827";
    titleLines.forEach((l, i) => ctx.fillText(l, 2 * pad, 2 * pad + i * 21 - 2));
    // Legend, bottom right.
    ctx.font = `13px ${FONT}`;
    const legendWidth = Math.min(W * 0.55, 360);
    const headLines = wrap(ctx, legendTitle, legendWidth - 2 * pad);
    const rowTexts = rows.map(([, label, count]) => `${label} (${count})`);
    const lw = Math.min(legendWidth, Math.max(
      ...headLines.map((l) => ctx.measureText(l).width),
      ...rowTexts.map((t) => ctx.measureText(t).width + 22)) + 2 * pad);
    const lh = headLines.length * 17 + rows.length * 18 + 2 * pad;
    const lx = W - lw - pad, ly = H - lh - pad - 18;
    box(ctx, lx, ly, lw, lh);
    ctx.fillStyle = "#111827";
    headLines.forEach((l, i) => ctx.fillText(l, lx + pad, ly + pad + i * 17));
    rows.forEach(([color, , , kind], i) => {
      const ry = ly + pad + headLines.length * 17 + i * 18;
      ctx.fillStyle = color;
      ctx.fillRect(lx + pad, ry + 2, 16, 12);
      ctx.strokeStyle = "#6b7280";
      ctx.strokeRect(lx + pad + 0.5, ry + 2.5, 15, 11);
      if (kind === "data-nodata") {
        ctx.beginPath();
        ctx.moveTo(lx + pad, ry + 14);
        ctx.lineTo(lx + pad + 16, ry + 2);
        ctx.stroke();
      }
      ctx.fillStyle = "#111827";
      ctx.fillText(rowTexts[i], lx + pad + 22, ry);
    });
    // Source and credits, along the bottom.
    ctx.font = `11px ${FONT}`;
    const credit = `${source} · ขอบเขต: RTSD / OCHA via HDX (CC BY-IGO) · cddgis`;
    const cw = Math.min(W - 2 * pad, ctx.measureText(credit).width + 2 * pad);
    box(ctx, pad, H - 18 - 4, cw, 18);
    ctx.fillStyle = "#374151";
    ctx.fillText(credit, 2 * pad, H - 18, cw - 2 * pad);
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

  return { render, download };
})();
