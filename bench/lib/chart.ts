/**
 * Hand-written SVG charts (no dependency): cumulative distributions on a logarithmic time axis, one panel per
 * configuration, one line per implementation.
 */

export interface ChartSeries {
  label: string;
  color: string;
  dash?: string;
  /** Ascending values (ms). */
  values: readonly number[];
  /** How many values there would be if every one had arrived (the line ends below 100% otherwise). */
  total: number;
  /** Where waiting stopped (ms): marked with a dot when the line ends below 100%. */
  capMs?: number;
  /** The dot's label (default: "<share>% at <capMs>"). */
  capLabel?: string;
}

export interface ChartPanel {
  title: string;
  series: ChartSeries[];
  /** Vertical reference lines (ms), e.g. a target. */
  markers: Array<{ x: number; label: string }>;
  /** This panel's axis range (ms), when it differs from the chart's. */
  xMin?: number;
  xMax?: number;
}

export interface EcdfChartOptions {
  title: string;
  /** One line each. */
  subtitle: string[];
  xLabel: string;
  /** The vertical axis (default: streams owned again). */
  yLabel?: string;
  panels: ChartPanel[];
  /** Axis range (ms); derived from the data when absent. */
  xMin?: number;
  xMax?: number;
  /** Notes under the chart, one per line. */
  notes?: string[];
}

const PANEL_WIDTH = 300;
const PANEL_HEIGHT = 230;
const MARGIN = { left: 58, right: 30, top: 92, bottom: 58, gap: 52 };

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function round(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}

function timeLabel(ms: number): string {
  if (ms >= 1000) return `${ms / 1000} s`;
  return `${ms} ms`;
}

export function ecdfChart(options: EcdfChartOptions): string {
  // A loop, not Math.min(...values): a series may hold hundreds of thousands of values.
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (const panel of options.panels) {
    for (const value of [...panel.markers.map((marker) => marker.x), ...panel.series.map((series) => series.values).flatMap((values) => [values[0], values.at(-1)])]) {
      if (value === undefined) continue;
      if (value > 0) low = Math.min(low, value);
      high = Math.max(high, value);
    }
  }
  const chartMin = options.xMin ?? 10 ** Math.floor(Math.log10(Number.isFinite(low) ? low : 100));
  const chartMax = options.xMax ?? 10 ** Math.ceil(Math.log10(Number.isFinite(high) ? high : 1000));
  const legend = legendEntries(options.panels);
  const legendRows = Math.ceil(legend.length / 2);
  const top = MARGIN.top + legendRows * 18 + (options.subtitle.length - 1) * 16;
  const width = MARGIN.left + options.panels.length * (PANEL_WIDTH + MARGIN.gap) - MARGIN.gap + MARGIN.right;
  const notes = options.notes ?? [];
  const height = top + PANEL_HEIGHT + MARGIN.bottom + notes.length * 16 + 8;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="24" font-size="16" font-weight="600" fill="#111">${escape(options.title)}</text>`,
  );
  options.subtitle.forEach((line, i) => out.push(`<text x="${MARGIN.left}" y="${44 + i * 16}" fill="#444">${escape(line)}</text>`));
  legend.forEach((entry, i) => {
    const x = MARGIN.left + (i % 2) * 380;
    const y = 66 + (options.subtitle.length - 1) * 16 + Math.floor(i / 2) * 18;
    out.push(
      `<line x1="${x}" y1="${y - 4}" x2="${x + 28}" y2="${y - 4}" stroke="${entry.color}" stroke-width="2.5"${entry.dash ? ` stroke-dasharray="${entry.dash}"` : ''}/>`,
      `<text x="${x + 36}" y="${y}" fill="#222">${escape(entry.label)}</text>`,
    );
  });

  options.panels.forEach((panel, index) => {
    const x0 = MARGIN.left + index * (PANEL_WIDTH + MARGIN.gap);
    const y0 = top;
    const xMin = panel.xMin ?? chartMin;
    const xMax = panel.xMax ?? chartMax;
    const lMin = Math.log10(xMin);
    const lMax = Math.log10(xMax);
    const sx = (ms: number): number => x0 + ((Math.log10(Math.min(Math.max(ms, xMin), xMax)) - lMin) / (lMax - lMin)) * PANEL_WIDTH;
    const sy = (fraction: number): number => y0 + PANEL_HEIGHT - fraction * PANEL_HEIGHT;
    out.push(`<g>`, `<text x="${x0}" y="${y0 - 10}" font-weight="600" fill="#111">${escape(panel.title)}</text>`);
    out.push(`<rect x="${x0}" y="${y0}" width="${PANEL_WIDTH}" height="${PANEL_HEIGHT}" fill="#fafafa" stroke="#bbb"/>`);
    // Grid: decades labelled, 2 and 5 light.
    for (let decade = Math.floor(lMin); decade <= lMax; decade++) {
      for (const step of [1, 2, 5]) {
        const ms = step * 10 ** decade;
        if (ms < xMin || ms > xMax) continue;
        const x = round(sx(ms));
        out.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + PANEL_HEIGHT}" stroke="${step === 1 ? '#d0d0d0' : '#ececec'}"/>`);
        if (step === 1 || (lMax - lMin <= 2 && step !== 1)) {
          out.push(`<text x="${x}" y="${y0 + PANEL_HEIGHT + 16}" text-anchor="middle" fill="#444">${timeLabel(ms)}</text>`);
        }
      }
    }
    for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
      const y = round(sy(fraction));
      out.push(`<line x1="${x0}" y1="${y}" x2="${x0 + PANEL_WIDTH}" y2="${y}" stroke="#e4e4e4"/>`);
      if (index === 0) out.push(`<text x="${x0 - 6}" y="${Number(y) + 4}" text-anchor="end" fill="#444">${fraction * 100}%</text>`);
    }
    const p99 = round(sy(0.99));
    out.push(`<line x1="${x0}" y1="${p99}" x2="${x0 + PANEL_WIDTH}" y2="${p99}" stroke="#999" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${x0 + 4}" y="${Number(p99) + 12}" fill="#777" font-size="10">99%</text>`);
    for (const marker of panel.markers) {
      const x = round(sx(marker.x));
      out.push(
        `<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + PANEL_HEIGHT}" stroke="#2a9d3a" stroke-width="1.5" stroke-dasharray="5 3"/>`,
        `<text x="${Number(x) + 4}" y="${y0 + 14}" fill="#2a7d32" font-size="10">${escape(marker.label)}</text>`,
      );
    }
    for (const series of panel.series) {
      const path = ecdfPath(series, sx, sy);
      if (path) {
        out.push(
          `<path d="${path}" fill="none" stroke="${series.color}" stroke-width="2"${series.dash ? ` stroke-dasharray="${series.dash}"` : ''} stroke-linejoin="round"/>`,
        );
      }
      const missing = series.total - series.values.length;
      if (missing > 0 && series.values.length < series.total) {
        const y = round(sy(series.values.length / series.total));
        const x = round(sx(series.capMs ?? xMax));
        const label = series.capLabel ?? `${(100 - (missing / series.total) * 100).toFixed(0)}% at ${timeLabel(series.capMs ?? xMax)}`;
        // Near the right edge the label goes to the left of the dot, inside the panel.
        const left = Number(x) > x0 + PANEL_WIDTH - 90;
        out.push(
          `<circle cx="${x}" cy="${y}" r="3.5" fill="${series.color}"/>`,
          `<text x="${Number(x) + (left ? -6 : 6)}" y="${Number(y) + (left ? 14 : 4)}"${left ? ' text-anchor="end"' : ''} fill="${series.color}" font-size="10">${escape(label)}</text>`,
        );
      }
    }
    out.push(`<text x="${x0 + PANEL_WIDTH / 2}" y="${y0 + PANEL_HEIGHT + 36}" text-anchor="middle" fill="#333">${escape(options.xLabel)}</text>`);
    out.push(`</g>`);
  });
  out.push(
    `<text transform="translate(16 ${top + PANEL_HEIGHT / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escape(options.yLabel ?? 'streams owned again')}</text>`,
  );
  notes.forEach((note, i) => {
    out.push(`<text x="${MARGIN.left}" y="${top + PANEL_HEIGHT + MARGIN.bottom + i * 16}" fill="#555" font-size="11">${escape(note)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function legendEntries(panels: readonly ChartPanel[]): Array<{ label: string; color: string; dash?: string }> {
  const seen = new Map<string, { label: string; color: string; dash?: string }>();
  for (const panel of panels) for (const series of panel.series) if (!seen.has(series.label)) seen.set(series.label, series);
  return [...seen.values()].map(({ label, color, dash }) => ({ label, color, dash }));
}

/** The step line of the cumulative distribution, thinned to what a pixel can show. */
function ecdfPath(series: ChartSeries, sx: (ms: number) => number, sy: (fraction: number) => number): string {
  if (series.values.length === 0 || series.total === 0) return '';
  let x = sx(series.values[0]!);
  let y = sy(0);
  const parts = [`M${round(x)} ${round(y)}`];
  series.values.forEach((value, i) => {
    const nextX = sx(value);
    const nextY = sy((i + 1) / series.total);
    if (nextX - x >= 0.5) {
      // Rise to where the line stood, then run to the new value.
      parts.push(`V${round(y)}`, `H${round(nextX)}`);
      x = nextX;
    }
    y = nextY;
  });
  parts.push(`V${round(y)}`);
  return parts.join('');
}
