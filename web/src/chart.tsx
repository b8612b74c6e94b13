/** A small uPlot line chart: time on x (seconds since the epoch) or, with `xLabel`, a numeric x; one or more series. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
}

export function Chart({
  title,
  times,
  series,
  height = 160,
  unit = '',
  xLabel,
  steps = false,
  xLog = false,
}: {
  title: string;
  times: number[];
  series: Series[];
  height?: number;
  unit?: string;
  /** A numeric x axis (not time), with this unit after each tick: a distribution plot. */
  xLabel?: string;
  /** Draw steps (a histogram's bins) instead of lines. */
  steps?: boolean;
  /** A logarithmic x axis (with xLabel). */
  xLog?: boolean;
}) {
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
      scales: { x: { time: xLabel === undefined, ...(xLog ? { distr: 3 } : {}) } },
      axes: [
        { stroke: '#8a94a6', grid: { stroke: '#2a3140' }, ...(xLabel !== undefined ? { values: (_u: uPlot, vals: (number | null)[]) => vals.map((v) => (v === null ? '' : `${+v.toPrecision(3)}${xLabel}`)) } : {}) },
        { stroke: '#8a94a6', grid: { stroke: '#2a3140' }, size: 56, values: (_u, vals) => vals.map((v) => (v === null ? '' : `${+v.toFixed(2)}${unit}`)) },
      ],
      series: [
        xLabel !== undefined ? { label: xLabel.trim() || 'x', value: (_u: uPlot, v: number | null) => (v === null ? '' : `${+v.toFixed(3)}${xLabel}`) } : {},
        ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: false, ...(steps ? { paths: uPlot.paths.stepped!({ align: 1 }), fill: `${s.color}33` } : {}) })),
      ],
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
  }, [shape, height, unit, xLabel, steps, xLog]);
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
