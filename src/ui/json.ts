/** Moved to src/core/contract (a server uses the same names and envelopes); re-exported for existing imports. */
export { SCHEMAS, okEnvelope, errorEnvelope, toJson, type OkEnvelope, type ErrorEnvelope, type Envelope, type SchemaName } from '../core/contract/index.js';
