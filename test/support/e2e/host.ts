// A host for the tests that run the host CLI against the real engine: a
// sandbox (HOME, config directory, tmpfs runtime directory), a software TPM,
// a tmpfs directory for the stand-ins' inputs, a project name and a free port
// for Mattermost, all removed in teardown; the test images built.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Sandbox, sandbox } from '../host-seal/cli.js';
import { type SoftTpm, startSwtpm } from '../host-seal/swtpm.js';
import { removeProject, removeStaleProjects } from './cleanup.js';
import { ensureDockerEngine } from './engine.js';
import { buildTestImages, type TestImages } from './images.js';
import { attempt, run } from './run.js';
import { freePort, projectName } from './stack.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface TestHost {
  images: TestImages;
  box: Sandbox;
  tpm: SoftTpm;
  /** A root-only tmpfs directory for the stand-ins' inputs (E2E_STANDIN_DIR). */
  standins: string;
  project: string;
  port: number;
}

export async function testHost(t: Teardown): Promise<TestHost> {
  await ensureDockerEngine();
  await removeStaleProjects();
  const images = await buildTestImages();
  const box = await sandbox(t);
  const tpm = await startSwtpm(box.root);
  t.teardown(() => tpm.stop());
  const standins = mkdtempSync(join(tmpdir(), 'cbs-e2e-standins-'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', standins]);
  t.teardown(async () => {
    await attempt('umount', ['-l', standins]);
    rmSync(standins, { recursive: true, force: true });
  });
  const project = projectName();
  t.teardown(() => removeProject(project));
  return { images, box, tpm, standins, project, port: await freePort() };
}
