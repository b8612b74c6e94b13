import { NotImplementedError } from '../../core/errors.js';

/** Commands that exist in the interface but are not built: say so, exit 11, print nothing on stdout. */
export function notImplemented(command: string): never {
  throw new NotImplementedError(
    `\`aivmm ${command}\` is not implemented yet in this version`,
    'see "Status" in the README for what works today; `aivmm devices` does',
  );
}
