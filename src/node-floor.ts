/**
 * The oldest Node the npm package runs on. The single executable carries its own Node; the npm package runs on
 * whatever `node` the user has, and the bundled dependencies decide what that must be (undici 8 needs 22.19:
 * on Debian's Node 20, doctor collected every node and then died loading undici's zstd decoder, as "internal
 * error: Cannot read properties of undefined (reading 'bind')"). The bundle's entry checks before
 * loading anything else (scripts/bundle-entry.mjs); scripts/bundle.mjs fails the build when a bundled package
 * needs more than package.json's `engines.node` says.
 */

export type Version = readonly [number, number, number];

const VERSION = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/;

/** "22.19.0", "v20.20.2", "22" → [22, 19, 0]…; anything else → null. */
export function parseVersion(text: string): Version | null {
  const m = VERSION.exec(text.trim());
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : null;
}

export function compareVersions(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

export const formatVersion = (v: Version): string => v.join('.');

/**
 * The lowest version from which an `engines.node` range admits every later Node: its alternative that has no
 * upper bound (`>=X`, `>= X`, `*`). null when every alternative is bounded (`^20.1.0`, `>=18 <19`) or a term
 * is not understood, so the caller fails rather than guess.
 * e.g. "^12.20.0 || ^14.13.1 || >=16.0.0" → 16.0.0; ">=18.20 <19 || >=20.10" → 20.10.0.
 */
export function openFloor(range: string): Version | null {
  let floor: Version | null = null;
  for (const alternative of range.split('||')) {
    const terms = alternative
      .trim()
      .replace(/(>=|<=|[<>^~=])\s+/g, '$1')
      .split(/\s+/);
    if (terms.length === 1 && (terms[0] === '*' || terms[0] === '' || terms[0] === 'x')) return [0, 0, 0];
    if (terms.length !== 1 || !terms[0]!.startsWith('>=')) continue;
    const v = parseVersion(terms[0]!.slice(2));
    if (!v) return null;
    if (!floor || compareVersions(v, floor) < 0) floor = v;
  }
  return floor;
}

/**
 * The line to print when this Node is older than `floor` (package.json's engines.node, set by the bundler),
 * else null. `execPath` names the Node that was found, since users often have more than one.
 */
export function nodeTooOld(actual: string, floor: string, execPath: string): string | null {
  const have = parseVersion(actual);
  const need = parseVersion(floor);
  if (!have || !need || compareVersions(have, need) >= 0) return null;
  return (
    `kubectl-flannel: needs Node >= ${formatVersion(need)}, but ${execPath} is Node ${formatVersion(have)}: ` +
    'install the single executable from the release (it carries its own Node), or a newer Node'
  );
}
