// Masks secrets in output, whole or streamed. Re-exports only.
export { MASK } from './one-shot.js';
export { createRedactor } from './stream.js';
export { redact } from './one-shot.js';
