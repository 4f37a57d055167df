/**
 * Line plots as standalone SVG text (no libraries, no fonts to ship): training curves for the report,
 * inlined in report.html and written beside it as .svg files.
 */

export interface Series {
  label: string;
  x: number[];
  y: number[];
  /** a shaded band (e.g. mean +/- std over folds) */
  lo?: number[];
  hi?: number[];
}

export interface PlotOptions {
  title: string;
  xlabel: string;
  ylabel: string;
  series: Series[];
  width?: number;
  height?: number;
  /** y tick labels as percentages of a [0, 1] quantity */
  percent?: boolean;
}

/** matplotlib's tab10, then the same with dashes */
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const DASHES = ['', '6 3', '2 2', '8 3 2 3'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Tick values 1/2/5 x 10^k covering [lo, hi] with about `n` ticks. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / Math.max(1, n);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  // integer multiples of the step, rounded: 0.6 rather than 0.6000000000000001
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return out;
}

function tickLabel(v: number, step: number, percent: boolean): string {
  const x = percent ? v * 100 : v;
  const s = percent ? step * 100 : step;
  const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(s) + 1e-9)));
  if (Math.abs(x) >= 1e5 || (Math.abs(x) < 1e-4 && x !== 0)) return x.toExponential(1);
  return x.toFixed(digits);
}

export function seriesColor(i: number): { stroke: string; dash: string } {
  return { stroke: PALETTE[i % PALETTE.length]!, dash: DASHES[Math.floor(i / PALETTE.length) % DASHES.length]! };
}

/** A line plot; points with non-finite y are gaps. */
export function linePlot(o: PlotOptions): string {
  const W = o.width ?? 600;
  const legendRows = Math.ceil(o.series.length / 2);
  const plotH = o.height ?? 300;
  const H = plotH + 16 + legendRows * 18;
  const m = { l: 62, r: 16, t: 30, b: 44 };
  const pw = W - m.l - m.r;
  const ph = plotH - m.t - m.b;
  let xlo = Infinity;
  let xhi = -Infinity;
  let ylo = Infinity;
  let yhi = -Infinity;
  for (const s of o.series) {
    s.x.forEach((x, i) => {
      const ys = [s.y[i], s.lo?.[i], s.hi?.[i]].filter((v): v is number => v !== undefined && Number.isFinite(v));
      if (!ys.length || !Number.isFinite(x)) return;
      xlo = Math.min(xlo, x);
      xhi = Math.max(xhi, x);
      for (const y of ys) {
        ylo = Math.min(ylo, y);
        yhi = Math.max(yhi, y);
      }
    });
  }
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(o.title)}</text>`);
  if (!Number.isFinite(xlo)) {
    parts.push(`<text x="${W / 2}" y="${plotH / 2}" text-anchor="middle" fill="#777">no data</text></svg>`);
    return parts.join('\n');
  }
  const xt = niceTicks(xlo, xhi, Math.min(8, Math.max(1, xhi - xlo)));
  const yt = niceTicks(ylo, yhi, 5);
  const x0 = Math.min(xlo, xt[0] ?? xlo);
  const x1 = Math.max(xhi, xt[xt.length - 1] ?? xhi);
  const y0 = Math.min(ylo, yt[0] ?? ylo);
  const y1 = Math.max(yhi, yt[yt.length - 1] ?? yhi);
  const sx = (x: number): number => m.l + (x1 > x0 ? ((x - x0) / (x1 - x0)) * pw : pw / 2);
  const sy = (y: number): number => m.t + ph - (y1 > y0 ? ((y - y0) / (y1 - y0)) * ph : ph / 2);
  const f = (v: number): string => v.toFixed(1);
  // grid and axes
  const ystep = yt.length > 1 ? yt[1]! - yt[0]! : 1;
  for (const y of yt) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${f(sy(y))}" y2="${f(sy(y))}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 6}" y="${f(sy(y) + 4)}" text-anchor="end" fill="#333">${tickLabel(y, ystep, o.percent ?? false)}</text>`);
  }
  const xstep = xt.length > 1 ? xt[1]! - xt[0]! : 1;
  for (const x of xt) {
    parts.push(`<line x1="${f(sx(x))}" x2="${f(sx(x))}" y1="${m.t + ph}" y2="${m.t + ph + 4}" stroke="#333"/>`);
    parts.push(`<text x="${f(sx(x))}" y="${m.t + ph + 17}" text-anchor="middle" fill="#333">${tickLabel(x, xstep, false)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${m.t + ph + 34}" text-anchor="middle">${escapeXml(o.xlabel)}</text>`);
  parts.push(
    `<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.ylabel)}${o.percent ? ' (%)' : ''}</text>`,
  );
  // series
  o.series.forEach((s, i) => {
    const { stroke, dash } = seriesColor(i);
    if (s.lo && s.hi) {
      const up: string[] = [];
      const down: string[] = [];
      s.x.forEach((x, k) => {
        if (Number.isFinite(s.lo![k]!) && Number.isFinite(s.hi![k]!)) {
          up.push(`${f(sx(x))},${f(sy(s.hi![k]!))}`);
          down.unshift(`${f(sx(x))},${f(sy(s.lo![k]!))}`);
        }
      });
      if (up.length > 1) parts.push(`<polygon points="${[...up, ...down].join(' ')}" fill="${stroke}" fill-opacity="0.15" stroke="none"/>`);
    }
    let d = '';
    let pen = false;
    s.x.forEach((x, k) => {
      const y = s.y[k]!;
      if (!Number.isFinite(y)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${f(sx(x))},${f(sy(y))}`;
      pen = true;
    });
    parts.push(`<path d="${d}" fill="none" stroke="${stroke}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    if (s.x.length <= 30) {
      s.x.forEach((x, k) => {
        if (Number.isFinite(s.y[k]!)) parts.push(`<circle cx="${f(sx(x))}" cy="${f(sy(s.y[k]!))}" r="2.5" fill="${stroke}"/>`);
      });
    }
  });
  // legend: two columns under the plot
  o.series.forEach((s, i) => {
    const { stroke, dash } = seriesColor(i);
    const lx = m.l + (i % 2) * (pw / 2);
    const ly = plotH + 8 + Math.floor(i / 2) * 18;
    parts.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${stroke}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    );
    parts.push(`<text x="${lx + 28}" y="${ly + 4}">${escapeXml(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
