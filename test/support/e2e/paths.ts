// Where the harness keeps things, and the label on everything it creates.
import { basename, dirname, join, resolve } from 'node:path';

// Three levels up from test/support/e2e; one more when running compiled from dist/ (the benchmarks do).
const up3 = resolve(import.meta.dirname, '..', '..', '..');
export const ROOT = basename(up3) === 'dist' ? dirname(up3) : up3;
/** Build inputs and logs (dockerd.log, npm tarball, locks); ignored by git. */
export const CACHE_DIR = join(ROOT, '.cache', 'e2e');
export const FIXTURES = join(ROOT, 'test', 'fixtures');
/** On every container, and on images, the suite creates. */
export const TEST_LABEL = 'com.copilot-bridge-stack.test';
export const TEST_LABEL_FILTER = `label=${TEST_LABEL}=1`;
/** Compose projects of the suite are named with this prefix. */
export const PROJECT_PREFIX = 'cbs-e2e-';
