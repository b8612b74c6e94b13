/** A small uPlot line chart: time on x (seconds since the epoch), one or more series. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
}

export function Chart({ title, times, series, height = 160, unit = '' }: { title: string; times: number[]; series: Series[]; height?: number; unit?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join('|');
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(240, el.clientWidth),
      height,
      legend: { show: true },
      cursor: { show: true },
      scales: { x: { time: true } },
      axes: [
        { stroke: '#8a94a6', grid: { stroke: '#2a3140' } },
        { stroke: '#8a94a6', grid: { stroke: '#2a3140' }, size: 56, values: (_u, vals) => vals.map((v) => `${+v.toFixed(2)}${unit}`) },
      ],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: false }))],
    };
    plot.current = new uPlot(opts, [[], ...series.map(() => [])] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(240, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Recreated only when the set of series changes; data updates go through setData below.
  }, [shape, height, unit]);
  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)] as uPlot.AlignedData);
  });
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} />
      {times.length === 0 && <p className="muted">Waiting for the first samples…</p>}
    </figure>
  );
}
