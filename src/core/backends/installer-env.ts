/**
 * The environment onnxruntime-node's install script must run with, for `aivmm setup cuda`. The installer
 * reads its flag from ONNXRUNTIME_NODE_INSTALL*, npm config and argv, in that order; the project's .npmrc
 * sets `onnxruntime-node-install=skip`, which npm exports to child processes. In 1.30 a named value such
 * as `cuda12` parses as "not given" (its switch has no return for it), and "not given" under npm
 * (npm_config_local_prefix set) means "skip". So: npm's variables out, `true` in — "install the
 * platform's optional files", which on linux-x64 are exactly the CUDA 12 provider libraries.
 */
export function installerEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || /^(npm_config_onnxruntime_node_install|ONNXRUNTIME_NODE_INSTALL|npm_config_local_prefix$|npm_package_json$)/i.test(k)) continue;
    clean[k] = v;
  }
  clean['ONNXRUNTIME_NODE_INSTALL'] = 'true';
  return clean;
}
