// The guard's own questions to the daemon (is this an agent container?),
// over the same socket, with a timeout.

import { request } from 'node:http';
import { errnoCode } from '../src/errors.js';
import type { Upstream } from './policy/agent-routes.js';
import { Refusal } from './policy/refusal.js';

export function dockerGet(socketPath: string, timeoutMs = 10_000): Upstream {
  return (path) =>
    new Promise((resolve, reject) => {
      const req = request(
        { socketPath, method: 'GET', path, headers: { host: 'docker' }, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            let json: unknown;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 502, json });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error: Error & { code?: string }) =>
        reject(new Refusal('upstream', `the Docker daemon did not answer (${errnoCode(error) ?? error.name})`)),
      );
      req.end();
    });
}
