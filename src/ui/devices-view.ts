/**
 * The devices report turned into display rows: one model shared by the Ink screen and the plain
 * table, so both say the same thing. Pure functions of the report; no I/O.
 */
import type { BackendReach, Device, DevicesReport } from '../core/devices/types.js';
import { formatAge, formatBytes, formatCores, formatMs } from './format/units.js';

export type ReachState = 'ok' | 'unverified' | 'fallback' | 'unavailable';

export interface ReachRow {
  backend: string;
  state: ReachState;
  /** "verified 3.1 ms", "not verified (run --probe)", the reason, … */
  detail: string;
  fix?: string;
  /** Probe run time, when probed. */
  runMs?: number;
  /** "CUDA 13 / cuDNN 9 libraries from …" for the CUDA and TensorRT backends. */
  libraries?: string;
}

export interface DeviceRow {
  id: string;
  name: string;
  tags: string[];
  facts: string[];
  notes: string[];
  backends: ReachRow[];
}

export function reachState(r: BackendReach): ReachState {
  if (!r.available) return 'unavailable';
  if (r.probe?.fallback) return 'fallback';
  return r.verified ? 'ok' : 'unverified';
}

function reachRow(r: BackendReach, now: Date): ReachRow {
  const state = reachState(r);
  let detail: string;
  if (state === 'unavailable') detail = r.reason ?? 'unavailable';
  else if (state === 'unverified') detail = `${r.target ?? ''} · not verified (run --probe)`.replace(/^ · /, '');
  else {
    const p = r.probe;
    const when = p?.cached ? `probed ${formatAge(p.at, now)}` : 'probed now';
    const timing = p ? `session ${formatMs(p.sessionMs)}, run ${formatMs(p.runMs)}` : '';
    detail = [r.target, state === 'fallback' ? (r.reason ?? 'fell back to the CPU') : timing, when].filter(Boolean).join(' · ');
  }
  const row: ReachRow = { backend: r.backend, state, detail };
  if (r.fix) row.fix = r.fix;
  if (r.libraries) row.libraries = `${r.libraries.stack} libraries from ${r.libraries.dirs.join(', ')}`;
  if (r.probe?.ok && r.probe.runMs !== undefined) row.runMs = r.probe.runMs;
  return row;
}

function deviceFacts(d: Device): string[] {
  const facts: string[] = [];
  if (d.cpu) {
    facts.push(`${d.cpu.vendor} ${d.cpu.arch}, ${formatCores(d.cpu.physicalCores, d.cpu.logicalCores)}${d.cpu.sockets > 1 ? `, ${d.cpu.sockets} sockets` : ''}${d.cpu.maxMHz ? `, up to ${d.cpu.maxMHz} MHz` : ''}`);
    facts.push(`memory ${formatBytes(d.memoryBytes)}`);
    if (d.cpu.features.length > 0) facts.push(`ISA ${d.cpu.features.join(' ')}`);
    return facts;
  }
  const parts = [d.vendor];
  if (d.memoryBytes !== undefined) parts.push(`${formatBytes(d.memoryBytes)}`);
  if (d.computeCapability) parts.push(`compute ${d.computeCapability}`);
  if (d.driver) parts.push(`driver ${d.driver}${d.driverVersion ? ` ${d.driverVersion}` : ''}`);
  if (d.pciAddress) parts.push(`PCI ${d.pciAddress}`);
  facts.push(parts.join(', '));
  const t = d.telemetry;
  if (t) {
    const live: string[] = [];
    if (t.utilizationPct !== undefined) live.push(`${t.utilizationPct}% busy`);
    if (t.memoryUsedBytes !== undefined) live.push(`${formatBytes(t.memoryUsedBytes)} used`);
    if (t.temperatureC !== undefined) live.push(`${t.temperatureC} °C`);
    if (t.powerW !== undefined) live.push(`${t.powerW} W${t.powerLimitW !== undefined ? ` of ${t.powerLimitW} W` : ''}`);
    if (live.length > 0) facts.push(live.join(', '));
  }
  if (d.software) facts.push('software adapter: computes on the CPU');
  if (d.vulkanIcd) facts.push(`Vulkan driver ${d.vulkanIcd}`);
  return facts;
}

export function deviceRows(report: DevicesReport, now: Date = new Date()): DeviceRow[] {
  return report.devices.map((d) => {
    const tags: string[] = [d.kind.toUpperCase()];
    if (d.integrated) tags.push('integrated');
    if (d.kind === 'gpu' && !d.integrated && !d.software && d.pciAddress) tags.push('discrete');
    if (d.software) tags.push('software');
    return {
      id: d.id,
      name: d.name,
      tags,
      facts: deviceFacts(d),
      notes: d.notes ?? [],
      backends: d.backends.map((b) => reachRow(b, now)),
    };
  });
}

export function hostLine(report: DevicesReport): string {
  const h = report.host;
  return `${h.hostname} · ${h.platform}-${h.arch} · ${formatBytes(h.memoryBytes)} RAM (${formatBytes(h.availableMemoryBytes)} free)`;
}

export function runtimeLine(report: DevicesReport): string {
  return report.runtimes.map((r) => (r.installed ? `${r.name} ${r.version ?? ''}`.trim() : `${r.name}: not installed`)).join(' · ');
}

export function probeLine(report: DevicesReport, now: Date = new Date()): string {
  if (report.probed) return 'verified by running a tiny model on each pair (--probe)';
  if (report.probeCache?.used && report.probeCache.at) return `cheap checks + probe results from ${formatAge(report.probeCache.at, now)}; run with --probe to verify again`;
  return 'cheap checks only (libraries, drivers, ICD files); run with --probe to verify';
}
