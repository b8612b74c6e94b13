/**
 * The KServe v2 gRPC definition (grpc_predict_v2.proto, beside this file in src/ and copied next to the
 * compiled file in dist/ by scripts/prepare.mjs), loaded once with proto-loader.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';

export const PROTO_FILE = 'grpc_predict_v2.proto';

/** Where the .proto is: beside this module (src/, or dist/ once prepare.mjs copied it), else the source tree (a dist/ built by plain tsc). */
export function protoPath(): string {
  const candidates = [new URL(`./${PROTO_FILE}`, import.meta.url), new URL(`../../../src/server/grpc/${PROTO_FILE}`, import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`${PROTO_FILE} is missing (looked in ${candidates.join(', ')}); reinstall aivmm or run npm run prepare`);
  return found;
}

let cached: PackageDefinition | undefined;

/**
 * The package definition: field names as in the .proto (keepCase), 64-bit integers as decimal strings
 * (int64_contents past 2^53 become BigInt64Array elements exactly), bytes as Buffers (views of the
 * received message, no copy), oneofs named, defaults filled in.
 */
export function inferenceProto(): PackageDefinition {
  cached ??= loadSync(protoPath(), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  return cached;
}
