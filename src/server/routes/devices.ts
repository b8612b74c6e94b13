/**
 * GET /v1/devices: the devices of this machine as `aivmm devices` reports them (discovery without a
 * probe, plus cached probe results), with the model versions placed on each, for the dashboard's device
 * cards. Discovery is cheap (files, libraries, nvidia-smi) but not free, so a report is reused for a few
 * seconds; telemetry (utilisation, memory, power, temperature) is as fresh as that.
 */
import type { FastifyInstance } from 'fastify';
import { listDevices, nodeHost } from '../../core/devices/index.js';
import type { DevicesReport } from '../../core/devices/types.js';
import type { ServerOptions } from '../app.js';

export interface DevicesPayload extends DevicesReport {
  /** Model versions served on each device id, with the backend and the reason. */
  placed: { device: string; backend: string; model: string; version: string; instances: number; reason: string }[];
}

const FRESH_MS = 3000;

export function registerDeviceRoutes(app: FastifyInstance, opts: ServerOptions & { discoverDevices?: () => Promise<DevicesReport> }): void {
  const discover = opts.discoverDevices ?? (() => listDevices({ host: nodeHost(process.env, process.env['AIVMM_SYSROOT'] || '/') }));
  let cached: { at: number; report: Promise<DevicesReport> } | undefined;
  app.get(
    '/v1/devices',
    { schema: { summary: 'Devices of this machine (aivmm devices, no probe) with the models placed on each', tags: ['aivmm'] } },
    async (_req, reply) => {
      if (!cached || Date.now() - cached.at > FRESH_MS) {
        const report = discover();
        cached = { at: Date.now(), report };
        report.catch(() => (cached = undefined));
      }
      const report = await cached.report;
      const reg = opts.registry;
      const placed = reg
        .names()
        .flatMap((model) =>
          reg
            .served(model)
            .flatMap((v) =>
              v.placement.map((p) => ({
                device: p.device,
                backend: p.backend,
                model,
                version: String(v.version),
                instances: v.instances.size,
                reason: p.reason,
              })),
            ),
        );
      const body: DevicesPayload = { ...report, placed };
      return reply.code(200).type('application/json').send(JSON.stringify(body));
    },
  );
}
