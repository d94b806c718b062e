/** The chart of the rebalancing scenario (docs/img/rebalance.svg): per stream moved in the scale-out, the gap from
 * the giver's release to the receiver's add; per stream of a restarted consumer, close() to owned again. */
import { ecdfChart, type ChartSeries } from '../lib/chart.js';
import { fmt } from '../lib/util.js';
import { GAP_TARGET_MS, type RebalanceData } from './rebalance.js';

const COLORS = ['#1f5fbf', '#19a7c9', '#ef8a17', '#7b3fb5'];

export function rebalanceChart(data: RebalanceData, meta: { date: string; machine: string }): string {
  const panels = [];
  const subtitle: string[] = [];
  const first = data.scaleOut[0];
  if (first) {
    panels.push({
      title: "Scale-out: giver's release → receiver's add",
      series: data.scaleOut.map((run, i): ChartSeries => ({
        label: `scale-out run ${i + 1}`,
        color: COLORS[i % COLORS.length]!,
        values: run.moves.gaps,
        total: run.moves.released,
      })),
      markers: [{ x: GAP_TARGET_MS, label: `target p99 ${GAP_TARGET_MS} ms` }],
    });
    subtitle.push(
      `Left: ${first.consumers} → ${first.consumers + 1} consumers, ${fmt(first.streams)} streams, heartbeatMs ${fmt(first.heartbeatMs)}; per stream moved`,
    );
  }
  const restart = data.restart[0];
  if (restart) {
    panels.push({
      title: 'Rolling restart: close() → owned again',
      series: restart.restarts.map((one, i): ChartSeries => ({
        label: `restart ${i + 1} (${fmt(one.streams)} streams)`,
        color: COLORS[i % COLORS.length]!,
        dash: '6 3',
        values: one.latencies,
        total: one.streams,
      })),
      markers: [],
    });
    subtitle.push(`Right: ${restart.consumers} consumers, ${fmt(restart.streams)} streams; each in turn close({ restart: true }), a new process under its id`);
  }
  return ecdfChart({
    title: 'Rebalancing: streams moved to a consumer that joins, and taken back across a restart',
    subtitle: [...subtitle, `${meta.date}, ${meta.machine}`],
    xLabel: 'time (log scale)',
    yLabel: 'streams',
    panels,
    xMin: 1,
    xMax: 1000,
    notes: ['Reproduce: npm run bench -- --only=rebalance (raw figures: bench/results/*.json). See docs/performance.md.'],
  });
}
