/**
 * Configuration, read once: the CLI calls loadConfig(process.env) at its edge (src/cli/main.ts) and
 * hands the result to every command; core modules get the parts they need as arguments and never read
 * the environment themselves.
 *
 * Precedence, later wins: built-in defaults < environment variables < command-line flags. (There is no
 * config file yet; when one lands it goes between the defaults and the environment.) Flags are applied
 * by the CLI on top of this object (resolveOutput below for --json/--no-color; --cache-dir and friends
 * when they exist). ENV_VARS is the table of every variable aivmm reads, with its precedence; it is
 * also docs/configuration.md, and a test keeps the two in step.
 */
import { homeDir, resolvePaths, type AivmmPaths } from './paths.js';
import { hubSettings, type HubSettings } from '../hub/settings.js';
import { tracingSettings, type TracingSettings } from './tracing.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface OutputSettings {
  /** AIVMM_JSON=1: every command behaves as if given --json. */
  json: boolean;
  /** NO_COLOR set to anything but the empty string (https://no-color.org). */
  noColor: boolean;
  /** CI set (and not "false"/"0"): no Ink screens and no spinners, even on a terminal. */
  ci: boolean;
}

/** How a command presents its result: one JSON document, an Ink screen on a terminal, or plain text. */
export type OutputMode = 'json' | 'tty' | 'plain';

export interface AivmmConfig {
  /** Where aivmm keeps its own files (AIVMM_CACHE_DIR, XDG_CACHE_HOME, the platform default). */
  paths: AivmmPaths;
  /**
   * Hugging Face Hub settings, read the way huggingface_hub reads them. Computed on first use (and then
   * kept), so a malformed HF_ENDPOINT fails only the commands that talk to the hub.
   */
  readonly hub: HubSettings;
  /** Filesystem root that device discovery reads /proc, /sys, /etc under (AIVMM_SYSROOT, default /). */
  sysroot: string;
  output: OutputSettings;
  /**
   * OpenTelemetry tracing from the standard OTEL_* variables (./tracing.ts): off unless configured.
   * Computed on first use, so a malformed variable fails only `serve` (exit 3).
   */
  readonly tracing: TracingSettings;
  /** The environment it was read from: child processes and device discovery (PATH, LD_LIBRARY_PATH, VK_*) get it as is. */
  env: Env;
}

export interface LoadConfigOptions {
  platform?: NodeJS.Platform;
  home?: string;
}

const set = (v: string | undefined): boolean => v !== undefined && v !== '';

export function ciFromEnv(env: Env): boolean {
  return set(env['CI']) && env['CI'] !== 'false' && env['CI'] !== '0';
}

export function loadConfig(env: Env, opts: LoadConfigOptions = {}): AivmmConfig {
  const home = opts.home ?? homeDir();
  const paths = resolvePaths(env, opts.platform ?? process.platform, home);
  let hub: HubSettings | undefined;
  let tracing: TracingSettings | undefined;
  return {
    paths,
    get hub(): HubSettings {
      hub ??= hubSettings(env, home);
      return hub;
    },
    get tracing(): TracingSettings {
      tracing ??= tracingSettings(env);
      return tracing;
    },
    sysroot: env['AIVMM_SYSROOT'] || '/',
    output: { json: env['AIVMM_JSON'] === '1', noColor: set(env['NO_COLOR']), ci: ciFromEnv(env) },
    env,
  };
}

/** Flags over environment: --json wins over nothing, AIVMM_JSON=1 turns it on; --no-color or NO_COLOR or --json turn colour off. */
export function resolveOutput(
  output: OutputSettings,
  flags: { json?: boolean; color?: boolean },
  stdoutIsTTY: boolean,
): { mode: OutputMode; json: boolean; color: boolean; interactive: boolean } {
  const json = Boolean(flags.json) || output.json;
  const color = flags.color !== false && !output.noColor && !json;
  const interactive = stdoutIsTTY && !json && !output.ci;
  return { mode: json ? 'json' : interactive ? 'tty' : 'plain', json, color, interactive };
}

export interface EnvVar {
  name: string;
  /** What it sets, and what wins over it. */
  effect: string;
  default: string;
}

/** Every environment variable aivmm reads (docs/configuration.md is this table). A flag, where one exists, wins. */
export const ENV_VARS: readonly EnvVar[] = Object.freeze([
  { name: 'AIVMM_CACHE_DIR', effect: "aivmm's own cache (probe results, embedded models); wins over XDG_CACHE_HOME", default: '$XDG_CACHE_HOME/aivmm, ~/Library/Caches/aivmm, %LOCALAPPDATA%\\aivmm\\cache' },
  { name: 'XDG_CACHE_HOME', effect: 'base of the aivmm cache and of HF_HOME when those are unset', default: '~/.cache' },
  { name: 'LOCALAPPDATA', effect: 'Windows: base of the aivmm cache when AIVMM_CACHE_DIR is unset', default: '~\\AppData\\Local' },
  { name: 'AIVMM_JSON', effect: '=1: every command prints JSON, as with --json', default: 'unset (off)' },
  { name: 'NO_COLOR', effect: 'non-empty: no colours, as with --no-color', default: 'unset (colour on a terminal)' },
  { name: 'CI', effect: 'set (not "false"/"0"): plain output and no spinners even on a terminal', default: 'unset' },
  { name: 'AIVMM_API_KEY', effect: 'serve: the bearer token clients must send (as --api-key; required when binding beyond loopback)', default: 'unset (no key on loopback)' },
  { name: 'AIVMM_SERVE_CONFIG', effect: 'serve: the config file when --config is not given', default: 'unset' },
  { name: 'AIVMM_SERVER', effect: 'ps, run --server: the server to ask', default: 'http://127.0.0.1:8080' },
  { name: 'AIVMM_SYSROOT', effect: 'root under which device discovery reads /proc, /sys, /etc (tests, containers)', default: '/' },
  { name: 'HF_ENDPOINT', effect: 'the Hugging Face Hub URL', default: 'https://huggingface.co' },
  { name: 'HF_HOME', effect: 'Hugging Face home (token file, hub cache)', default: '$XDG_CACHE_HOME/huggingface' },
  { name: 'HF_HUB_CACHE', effect: 'the hub cache; wins over HUGGINGFACE_HUB_CACHE and HF_HOME', default: '$HF_HOME/hub' },
  { name: 'HUGGINGFACE_HUB_CACHE', effect: 'legacy name of HF_HUB_CACHE', default: 'unset' },
  { name: 'HF_TOKEN', effect: 'hub token; wins over HUGGING_FACE_HUB_TOKEN and the token file', default: 'unset' },
  { name: 'HUGGING_FACE_HUB_TOKEN', effect: 'legacy name of HF_TOKEN', default: 'unset' },
  { name: 'HF_TOKEN_PATH', effect: 'token file read when no token variable is set', default: '$HF_HOME/token' },
  { name: 'HF_HUB_OFFLINE', effect: '1/on/yes/true: cache only, no network', default: 'off' },
  { name: 'TRANSFORMERS_OFFLINE', effect: 'same as HF_HUB_OFFLINE', default: 'off' },
  { name: 'HF_HUB_DOWNLOAD_TIMEOUT', effect: 'seconds per read while downloading', default: '10' },
  { name: 'HF_HUB_ETAG_TIMEOUT', effect: 'seconds for the metadata request', default: '10' },
  { name: 'AIVMM_PULL_CHUNK_BYTES', effect: 'size of one parallel range request of a download (at least 65536; tests use small ones)', default: '8 MiB' },
  { name: 'PATH', effect: 'where device discovery finds vendor tools (nvidia-smi, …)', default: 'inherited' },
  { name: 'LD_LIBRARY_PATH', effect: 'searched for CUDA/cuDNN/TensorRT libraries when reporting what is missing', default: 'inherited' },
  { name: 'VK_DRIVER_FILES', effect: 'Vulkan ICD files (wins over VK_ICD_FILENAMES and the search path)', default: 'unset' },
  { name: 'VK_ICD_FILENAMES', effect: 'legacy name of VK_DRIVER_FILES', default: 'unset' },
  { name: 'VK_ADD_DRIVER_FILES', effect: 'extra Vulkan ICD files', default: 'unset' },
  { name: 'HOME', effect: 'with XDG_CONFIG_HOME/XDG_DATA_HOME: the Vulkan ICD search path', default: 'inherited' },
  { name: 'XDG_CONFIG_HOME', effect: 'Vulkan ICD search path', default: '$HOME/.config' },
  { name: 'XDG_CONFIG_DIRS', effect: 'Vulkan ICD search path', default: '/etc/xdg' },
  { name: 'XDG_DATA_HOME', effect: 'Vulkan ICD search path', default: '$HOME/.local/share' },
  { name: 'XDG_DATA_DIRS', effect: 'Vulkan ICD search path', default: '/usr/local/share:/usr/share' },
  { name: 'OTEL_SDK_DISABLED', effect: 'serve: true turns tracing off whatever else is set', default: 'false' },
  { name: 'OTEL_TRACES_EXPORTER', effect: 'serve: otlp turns tracing on, none off (other exporters are refused)', default: 'unset (on only if an OTLP endpoint is set)' },
  { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', effect: 'serve: OTLP/HTTP base URL, /v1/traces appended; setting it turns tracing on; wins over the config file', default: 'http://localhost:4318' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', effect: 'serve: the traces URL as is; wins over OTEL_EXPORTER_OTLP_ENDPOINT', default: 'unset' },
  { name: 'OTEL_EXPORTER_OTLP_HEADERS', effect: 'serve: key=value,… headers sent with every export (e.g. a collector token)', default: 'unset' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', effect: 'serve: the same for traces; wins per header over OTEL_EXPORTER_OTLP_HEADERS', default: 'unset' },
  { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', effect: 'serve: http/protobuf or http/json, the body of each OTLP/HTTP export; grpc is refused', default: 'http/protobuf' },
  { name: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', effect: 'serve: the same for traces; wins over OTEL_EXPORTER_OTLP_PROTOCOL', default: 'unset' },
  { name: 'OTEL_SERVICE_NAME', effect: "serve: the service.name resource attribute; wins over OTEL_RESOURCE_ATTRIBUTES' and the config file's", default: 'aivmm' },
  { name: 'OTEL_RESOURCE_ATTRIBUTES', effect: 'serve: key=value,… resource attributes of every span', default: 'unset' },
  { name: 'OTEL_TRACES_SAMPLER', effect: 'serve: always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio', default: 'parentbased_always_on' },
  { name: 'OTEL_TRACES_SAMPLER_ARG', effect: 'serve: the ratio 0–1 of the traceidratio samplers; wins over the config file', default: '1' },
  { name: 'OTEL_BSP_SCHEDULE_DELAY', effect: 'serve: longest wait (ms) before batched spans are exported', default: '1000' },
  { name: 'OTEL_BSP_MAX_QUEUE_SIZE', effect: 'serve: most spans held for export; past it new spans are dropped', default: '8192' },
  { name: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', effect: 'serve: spans per export (a full batch is sent at once); at most OTEL_BSP_MAX_QUEUE_SIZE', default: '2048' },
  { name: 'OTEL_BSP_EXPORT_TIMEOUT', effect: 'serve: ms an export may take before the next batch goes', default: '30000' },
  { name: 'XDG_RUNTIME_DIR', effect: "a worker lane's runtime directory (Dawn, the WebGPU EP, needs one on Linux)", default: '/tmp when unset' },
]);
