// Charts as plain SVG strings (no browser, no dependency): horizontal bars and a line chart.

const esc = (s) =>
  String(s).replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c],
  );
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';
export const COLORS = { ours: '#2563eb', interop: '#0d9488', peer: '#9ca3af', bare: '#111827' };

/**
 * Horizontal bar charts, one group per section: `sections` = [{ title, bars: [{ label, value,
 * kind: 'ours'|'interop'|'peer' }] }]. Values are ratios; a dashed line marks 1.0 (bare Express).
 */
export function barChart({ title, subtitle, sections, max = 1.1 }) {
  const width = 820;
  const labelW = 330;
  const barW = width - labelW - 70;
  const row = 18;
  const parts = [];
  let y = 52;
  const x = (v) => labelW + (Math.min(v, max) / max) * barW;
  for (const section of sections) {
    parts.push(
      `<text x="8" y="${y + 13}" font-size="14" font-weight="600">${esc(section.title)}</text>`,
    );
    y += 22;
    for (const bar of section.bars) {
      const v = bar.value;
      parts.push(
        `<text x="${labelW - 8}" y="${y + 12}" font-size="12" text-anchor="end">${esc(bar.label)}</text>`,
      );
      if (typeof v === 'number' && Number.isFinite(v)) {
        const w = Math.max(1, x(v) - labelW);
        parts.push(
          `<rect x="${labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="${row - 5}" fill="${COLORS[bar.kind] ?? COLORS.peer}" rx="2"/>`,
          `<text x="${(labelW + w + 5).toFixed(1)}" y="${y + 12}" font-size="11">${v.toFixed(2)}x</text>`,
        );
      } else {
        parts.push(
          `<text x="${labelW + 4}" y="${y + 12}" font-size="11" fill="#6b7280">not run</text>`,
        );
      }
      y += row;
    }
    y += 10;
  }
  const top = 44;
  const guide = [0.25, 0.5, 0.75, 1]
    .map(
      (g) =>
        `<line x1="${x(g).toFixed(1)}" y1="${top}" x2="${x(g).toFixed(1)}" y2="${y}" stroke="${g === 1 ? COLORS.bare : '#e5e7eb'}" stroke-dasharray="${g === 1 ? '4 3' : '2 3'}"/>` +
        `<text x="${x(g).toFixed(1)}" y="${y + 14}" font-size="10" text-anchor="middle" fill="#6b7280">${g === 1 ? '1.0 = bare Express' : `${g}`}</text>`,
    )
    .join('');
  const legend = [
    ['ours', 'session-store-js'],
    ['interop', 'express-session over our stores / drop-in'],
    ['peer', 'peers'],
  ]
    .map(
      ([k, text], i) =>
        `<rect x="${labelW + i * 170}" y="${y + 24}" width="10" height="10" fill="${COLORS[k]}"/><text x="${labelW + 14 + i * 170}" y="${y + 33}" font-size="11">${esc(text)}</text>`,
    )
    .join('');
  const height = y + 44;
  return svg(width, height, title, [
    `<text x="8" y="20" font-size="16" font-weight="700">${esc(title)}</text>`,
    subtitle ? `<text x="8" y="38" font-size="11" fill="#4b5563">${esc(subtitle)}</text>` : '',
    guide,
    ...parts,
    legend,
  ]);
}

/**
 * A line chart over a log-scaled x axis: `series` = [{ label, points: [[x, y], …] }].
 */
export function lineChart({ title, subtitle, series, yLabel, xLabel, yMax = 1 }) {
  const width = 820;
  const height = 340;
  const left = 60;
  const right = 180;
  const top = 50;
  const bottom = 50;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const lo = Math.log10(Math.min(...xs));
  const hi = Math.log10(Math.max(...xs));
  const span = hi - lo || 1;
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const top1 = Math.max(yMax, ...ys) * 1.05;
  const px = (v) => left + ((Math.log10(v) - lo) / span) * (width - left - right);
  const py = (v) => top + (1 - v / top1) * (height - top - bottom);
  const palette = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed'];
  const parts = [];
  for (let g = 0; g <= 4; g++) {
    const v = (top1 / 4) * g;
    parts.push(
      `<line x1="${left}" y1="${py(v).toFixed(1)}" x2="${width - right}" y2="${py(v).toFixed(1)}" stroke="#e5e7eb"/>`,
      `<text x="${left - 6}" y="${(py(v) + 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#6b7280">${v.toFixed(2)}</text>`,
    );
  }
  for (const v of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(
      `<text x="${px(v).toFixed(1)}" y="${height - bottom + 16}" font-size="10" text-anchor="middle" fill="#6b7280">${v.toLocaleString('en-US')}</text>`,
    );
  }
  series.forEach((s, i) => {
    const color = palette[i % palette.length];
    const pts = s.points.map(([a, b]) => `${px(a).toFixed(1)},${py(b).toFixed(1)}`);
    parts.push(
      `<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
    );
    for (const [a, b] of s.points)
      parts.push(
        `<circle cx="${px(a).toFixed(1)}" cy="${py(b).toFixed(1)}" r="3.5" fill="${color}"/>`,
        `<text x="${(px(a) + 5).toFixed(1)}" y="${(py(b) - 6).toFixed(1)}" font-size="10" fill="${color}">${b.toFixed(2)}</text>`,
      );
    parts.push(
      `<rect x="${width - right + 16}" y="${top + i * 18}" width="10" height="10" fill="${color}"/>`,
      `<text x="${width - right + 30}" y="${top + i * 18 + 9}" font-size="11">${esc(s.label)}</text>`,
    );
  });
  parts.push(
    `<text x="${(left + width - right) / 2}" y="${height - 12}" font-size="11" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="14" y="${(top + height - bottom) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${(top + height - bottom) / 2})">${esc(yLabel)}</text>`,
  );
  return svg(width, height, title, [
    `<text x="8" y="20" font-size="16" font-weight="700">${esc(title)}</text>`,
    subtitle ? `<text x="8" y="38" font-size="11" fill="#4b5563">${esc(subtitle)}</text>` : '',
    ...parts,
  ]);
}

/** A whole SVG document; `title` is its accessible name (the chart's heading). */
function svg(width, height, title, parts) {
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>\n<title>${esc(title)}</title>\n<rect width="100%" height="100%" fill="#ffffff"/>\n${parts.filter(Boolean).join('\n')}\n</svg>\n`;
}
