// The stream form of the redactor: what the entrypoint puts between a child
// process and its own stdout and stderr. It holds back only what could be the
// start of a secret, so lines come out as soon as they are complete.
import { Transform, type TransformCallback } from 'node:stream';
import type { SecretSet } from '../secrets/secret-set.js';
import { compile } from './compiled.js';
import { MASK } from './regions.js';
import { StreamState } from './stream-state.js';

/** How masked regions are written. */
export interface RedactorOptions {
  mask?: string;
}

/** A Transform (Buffer in, Buffer out) that replaces every occurrence of every needle with MASK, even split across chunks. */
export function createRedactor(set: SecretSet, options: RedactorOptions = {}): Transform {
  if (set.needles.length === 0) {
    return new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        callback(null, chunk);
      },
    });
  }
  const state = new StreamState(compile(set.needles), Buffer.from(options.mask ?? MASK, 'utf8'));
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      for (const piece of state.write(chunk)) this.push(piece);
      callback();
    },
    flush(callback: TransformCallback) {
      for (const piece of state.end()) this.push(piece);
      callback();
    },
  });
}
