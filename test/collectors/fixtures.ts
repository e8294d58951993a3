import { readFileSync } from 'node:fs';

/** fixtures/raw/<path>, relative to the repo root (tests run compiled from dist/test/collectors). */
export function raw(path: string): string {
  return readFileSync(new URL(`../../../fixtures/raw/${path}`, import.meta.url), 'utf8');
}
