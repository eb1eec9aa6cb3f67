// The lag-over-time chart, drawn by Chart.js on a canvas. Only the pieces a line chart on linear
// axes needs are registered (a smaller bundle, and no date adapter: time is epoch ms on a linear
// axis, labelled by a tick callback). Chart.js sizes its canvas through the CSSOM, which a CSP
// `style-src 'self'` allows; it injects no stylesheet and evaluates no strings.
import {
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { useEffect, useRef, type ReactNode } from 'react';
import type { LagSample } from './api.ts';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Tooltip, Legend);

const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

function points(
  samples: readonly LagSample[],
  pick: (sample: LagSample) => number | null,
): { x: number; y: number }[] {
  const out: { x: number; y: number }[] = [];
  for (const sample of samples) {
    const y = pick(sample);
    const x = typeof sample.at === 'number' ? sample.at : Date.parse(sample.at);
    if (y !== null && !Number.isNaN(x)) out.push({ x, y });
  }
  return out;
}

/** Lag (events, left axis) and lag in seconds (right axis) over the samples' times. */
export function LagChart({ samples }: { samples: readonly LagSample[] }): ReactNode {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'line', { x: number; y: number }[]> | null>(null);

  useEffect(() => {
    if (canvas.current === null) return;
    const config: ChartConfiguration<'line', { x: number; y: number }[]> = {
      type: 'line',
      data: {
        datasets: [
          {
            label: 'lag (events)',
            data: [],
            yAxisID: 'events',
            borderColor: '#2563eb',
            backgroundColor: '#2563eb',
            pointRadius: 0,
            borderWidth: 2,
          },
          {
            label: 'lag (seconds)',
            data: [],
            yAxisID: 'seconds',
            borderColor: '#d97706',
            backgroundColor: '#d97706',
            pointRadius: 0,
            borderWidth: 2,
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        normalized: true,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: {
          x: { type: 'linear', ticks: { callback: (value) => clock(Number(value)), maxTicksLimit: 8 } },
          events: {
            type: 'linear',
            position: 'left',
            beginAtZero: true,
            title: { display: true, text: 'events' },
          },
          seconds: {
            type: 'linear',
            position: 'right',
            beginAtZero: true,
            grid: { drawOnChartArea: false },
            title: { display: true, text: 'seconds' },
          },
        },
        plugins: {
          tooltip: {
            callbacks: { title: (items) => (items[0] === undefined ? '' : clock(items[0].parsed.x ?? 0)) },
          },
        },
      },
    };
    chart.current = new Chart(canvas.current, config);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const current = chart.current;
    if (current === null) return;
    const [events, seconds] = current.data.datasets;
    if (events !== undefined) events.data = points(samples, (s) => s.lag);
    if (seconds !== undefined) seconds.data = points(samples, (s) => s.lagSeconds);
    current.update('none');
  }, [samples]);

  const latest = samples.at(-1);
  return (
    <figure
      className="chart"
      data-testid="lag-chart"
      data-samples={samples.length}
      data-latest-lag={latest?.lag ?? ''}
    >
      <div className="chart-box">
        <canvas ref={canvas} role="img" aria-label="Lag over time" />
      </div>
      <figcaption className="muted">
        {samples.length} samples{latest === undefined ? '' : `; latest lag ${latest.lag} events`}
      </figcaption>
    </figure>
  );
}
