// Every bundle this project ships, in one esbuild configuration. Run after
// `tsc -p tsconfig.build.json` (npm run build does both): each program's
// compiled main under dist/ becomes one file, because module loading was most
// of each program's start-up time (docs/performance.md).
//
//   node scripts/build.mjs                          the four bundles under dist/
//   node scripts/build.mjs --test-entrypoint OUT TOOLS
//       the entrypoint as the host tests run it: op's fixed path (TOOLS, a
//       JSON object) pointing at the stand-in (scripts/build-test-entrypoint.sh)
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };

// Run before the agent command's bundle: `require`, `__filename` and
// `__dirname` for the bundled CommonJS (dockerode) in an ES module, and
// silence for DEP0169, which Node 24 prints on every command when url.parse is
// called from outside node_modules, as docker-modem's calls are once bundled.
const agentBanner = [
  "import { createRequire as __cbsCreateRequire } from 'node:module';",
  "import { fileURLToPath as __cbsFileURLToPath } from 'node:url';",
  'const require = __cbsCreateRequire(import.meta.url);',
  'const __filename = __cbsFileURLToPath(import.meta.url);',
  "const __dirname = __cbsFileURLToPath(new URL('.', import.meta.url));",
  'const __cbsEmitWarning = process.emitWarning;',
  "process.emitWarning = function (warning, ...rest) { if ((rest[0]?.code ?? rest[1]) !== 'DEP0169') return __cbsEmitWarning.call(process, warning, ...rest); };",
].join('\n');

export const bundles = {
  // The container entrypoint: the launcher runs it as root; nothing it does not import is loaded.
  entrypoint: {
    entryPoints: ['dist/entrypoint/main.js'],
    format: 'esm',
    outfile: 'dist/copilot-bridge-entrypoint.mjs',
  },
  guard: { entryPoints: ['dist/socket-guard/main.js'], format: 'esm', outfile: 'dist/docker-socket-guard.mjs' },
  // The host CLI: execa and the keyring's native addon stay in node_modules.
  seal: {
    entryPoints: ['dist/host-seal/main.js'],
    format: 'cjs',
    external: ['execa', '@napi-rs/keyring'],
    outfile: 'dist/copilot-bridge-seal.cjs',
  },
  // The agent command in the image: dockerode and mustache inside (2 MB instead of 20 MB of node_modules);
  // ssh2's optional native parts stay out, it falls back to pure JS.
  agent: {
    entryPoints: ['dist/agents/main.js'],
    format: 'esm',
    external: ['cpu-features', '*.node'],
    banner: { js: agentBanner },
    outfile: 'dist/copilot-bridge-agent.mjs',
  },
};

const [flag, outfile, tools] = process.argv.slice(2);
if (flag === '--test-entrypoint') {
  if (!outfile || !tools) {
    console.error(
      'build: --test-entrypoint needs OUT and TOOLS; usage: node scripts/build.mjs --test-entrypoint OUT TOOLS',
    );
    process.exit(64);
  }
  await build({ ...common, ...bundles.entrypoint, outfile, define: { CBS_ROOT_TOOLS: tools } });
} else if (flag !== undefined) {
  console.error(
    `build: unknown argument ${JSON.stringify(flag)}; usage: node scripts/build.mjs [--test-entrypoint OUT TOOLS]`,
  );
  process.exit(64);
} else {
  await Promise.all(Object.values(bundles).map((bundle) => build({ ...common, ...bundle })));
}
