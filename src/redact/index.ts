// Masks secrets in output, whole or streamed. Re-exports only.
export { MASK, redact } from './one-shot.js';
export { createRedactor } from './stream.js';
