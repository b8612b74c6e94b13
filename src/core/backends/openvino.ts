/**
 * openvino-node adapter: optional and lazy. Compiled against the package's own type declarations
 * (vendored, see vendor/openvino-node); loaded only when a session or probe asks for it.
 */
import type { Core, Tensor as OvTensor, addon as OvAddon } from 'openvino-node';
import { BackendUnavailableError, InferenceError, errorMessage } from '../errors.js';
import type { RuntimeTarget } from './ep-map.js';
import type { Backend, ElementType, HostTensor, LoadOptions, Session, TensorSpec } from './types.js';

type Addon = typeof OvAddon;
let addonPromise: Promise<{ addon: Addon; core: Core }> | undefined;

/** The process-wide OpenVINO Core, created on first use. */
export function loadOpenvino(): Promise<{ addon: Addon; core: Core }> {
  addonPromise ??= import('openvino-node')
    .then((m) => {
      const addon = (m as unknown as { addon: Addon }).addon;
      return { addon, core: new addon.Core() };
    })
    .catch((err: unknown) => {
      addonPromise = undefined;
      throw new BackendUnavailableError(
        `openvino-node could not be loaded: ${errorMessage(err)}`,
        'npm install openvino-node on a machine that can reach the OpenVINO download server',
        { cause: err },
      );
    });
  return addonPromise;
}

/** Devices OpenVINO itself reports (CPU, GPU.0, NPU, …) with their full names. */
export async function openvinoDevices(): Promise<{ id: string; name: string }[]> {
  const { core } = await loadOpenvino();
  return core.getAvailableDevices().map((id) => {
    let name = id;
    try {
      name = String(core.getProperty(id, 'FULL_DEVICE_NAME'));
    } catch {
      // some plugins do not report it
    }
    return { id, name };
  });
}

const OV_TYPES: Readonly<Record<string, ElementType>> = {
  f32: 'float32',
  f16: 'float16',
  i64: 'int64',
  i32: 'int32',
  i8: 'int8',
  u8: 'uint8',
  boolean: 'bool',
};
const TO_OV: Readonly<Partial<Record<ElementType, string>>> = { float32: 'f32', int64: 'i64', int32: 'i32', int8: 'i8', uint8: 'u8' };

class OpenvinoSession implements Session {
  private executions = 0;

  constructor(
    private readonly addon: Addon,
    private readonly compiled: Awaited<ReturnType<Core['compileModel']>>,
    readonly target: RuntimeTarget,
  ) {}

  private static spec(o: { getAnyName(): string; getPartialShape(): { toString(): string } }): TensorSpec {
    const dims = o
      .getPartialShape()
      .toString()
      .replace(/[[\]]/g, '')
      .split(',')
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => (/^\d+$/.test(d) ? Number(d) : -1));
    return { name: o.getAnyName(), type: 'unknown', shape: dims };
  }

  get inputs(): TensorSpec[] {
    return this.compiled.inputs.map((o) => OpenvinoSession.spec(o));
  }

  get outputs(): TensorSpec[] {
    return this.compiled.outputs.map((o) => OpenvinoSession.spec(o));
  }

  async run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    const request = this.compiled.createInferRequest();
    const ovFeeds: Record<string, OvTensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      const type = TO_OV[t.type];
      if (!type) throw new InferenceError(`OpenVINO adapter cannot feed ${t.type} input '${name}'`);
      ovFeeds[name] = new this.addon.Tensor(type as 'f32', [...t.dims], t.data as Float32Array);
    }
    try {
      const results = await request.inferAsync(ovFeeds);
      this.executions += 1;
      const out: Record<string, HostTensor> = {};
      for (const [name, t] of Object.entries(results)) {
        const key = this.addon.element[t.getElementType()] ?? 'f32';
        out[name] = { type: OV_TYPES[key] ?? 'float32', dims: t.getShape(), data: t.getData() as HostTensor['data'] };
      }
      return out;
    } catch (err) {
      throw new InferenceError(`inference failed: ${errorMessage(err)}`, undefined, { cause: err });
    }
  }

  async placement(): Promise<Record<string, number> | undefined> {
    if (this.target.runtime !== 'openvino') return undefined;
    // OpenVINO compiles the whole graph for one device (or fails): report the device it reports it runs on.
    let devices = this.target.device;
    try {
      devices = String(this.compiled.getProperty('EXECUTION_DEVICES'));
    } catch {
      // older plugins
    }
    return { [devices]: this.compiled.outputs.length };
  }

  async dispose(): Promise<void> {
    // openvino-node frees compiled models with garbage collection
  }
}

export const openvinoBackend: Backend = {
  runtime: 'openvino',

  async version(): Promise<string> {
    const { addon } = await loadOpenvino();
    return String(addon.getOpenvinoVersion().buildNumber);
  },

  async load(model, target, opts: LoadOptions = {}) {
    if (target.runtime !== 'openvino') throw new InferenceError(`OpenVINO cannot run target '${target.runtime}'`);
    const { addon, core } = await loadOpenvino();
    try {
      const m = typeof model === 'string' ? await core.readModel(model) : await core.readModel(model);
      const config: Record<string, string | number | boolean> = { ...(opts.epOptions ?? {}) };
      if (opts.threads !== undefined && target.device === 'CPU') config['INFERENCE_NUM_THREADS'] = opts.threads;
      const compiled = await core.compileModel(m, target.device, config);
      return new OpenvinoSession(addon, compiled, target);
    } catch (err) {
      throw new BackendUnavailableError(`OpenVINO could not compile for ${target.device}: ${errorMessage(err)}`, 'run `aivmm devices --probe`', { cause: err });
    }
  },
};
