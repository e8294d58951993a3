import { readFileSync } from 'node:fs';

/** Set by the bundler (scripts/bundle.mjs) from package.json; absent when running from dist/src. */
declare const KUBECTL_FLANNEL_VERSION: string | undefined;

/** The package version: one source of truth, package.json (read next to dist/ when not bundled). */
export const VERSION: string =
  typeof KUBECTL_FLANNEL_VERSION === 'string'
    ? KUBECTL_FLANNEL_VERSION
    : (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
