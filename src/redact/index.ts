// Masks secrets in output, whole or streamed. Re-exports only.
export { MASK } from './regions.js';
export { createRedactor, type RedactorOptions } from './stream.js';
export { redact } from './one-shot.js';
