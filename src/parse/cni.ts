/**
 * The output of the CNI listing script (node-commands.ts `cniCommand`): sections marked by
 * `#confdir`, `#absent-confdir`, `#active FILE` (followed by the file), `#bindir`, `#absent-bindir`.
 */
import type { CniState } from '../snapshot/types.js';
import type { ParseResult } from './issue.js';
import { jsonErrorMessage } from './redact/json-error.js';

export function parseCniListing(text: string, confDir: string, binDir: string): ParseResult<CniState> {
  const lines = text.split('\n');
  let confFiles: string[] | null = null;
  let binaries: string[] | null = null;
  let active: { file: string; body: string[] } | null = null;
  let section: 'conf' | 'active' | 'bin' | null = null;
  const errors: ParseResult<CniState>['errors'][number][] = [];
  lines.forEach((line, i) => {
    if (line === '#confdir') {
      confFiles = [];
      section = 'conf';
      return;
    }
    if (line === '#absent-confdir') {
      section = null;
      return;
    }
    if (line.startsWith('#active ')) {
      active = { file: line.slice('#active '.length), body: [] };
      section = 'active';
      return;
    }
    if (line === '#bindir') {
      binaries = [];
      section = 'bin';
      return;
    }
    if (line === '#absent-bindir') {
      section = null;
      return;
    }
    if (section === 'conf' && line) (confFiles as string[] | null)?.push(line);
    else if (section === 'bin' && line) (binaries as string[] | null)?.push(line);
    else if (section === 'active') (active as { body: string[] } | null)?.body.push(line);
    else if (line.trim()) errors.push({ line: i + 1, text: line, message: 'output outside any section' });
  });
  const a = active as { file: string; body: string[] } | null;
  return {
    value: {
      confDir,
      confFiles,
      activeConf: a ? { file: a.file, ...pluginTypes(a.body.join('\n')) } : null,
      binDir,
      binaries,
    },
    errors,
  };
}

/** Plugin types of a .conf (one plugin) or .conflist (a `plugins` array). */
function pluginTypes(body: string): { types: string[]; error: string | null } {
  let conf: unknown;
  try {
    conf = JSON.parse(body);
  } catch (e) {
    return { types: [], error: `not JSON: ${jsonErrorMessage(e)}` };
  }
  const o = conf as { type?: unknown; plugins?: unknown };
  const list = Array.isArray(o.plugins) ? o.plugins : [o];
  // A plugin type is a binary name; anything else in that field is not shown.
  const types = list
    .map((p) => (p as { type?: unknown } | null)?.type)
    .filter((t): t is string => typeof t === 'string')
    .map((t) => (/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(t) ? t : '<redacted>'));
  return types.length ? { types, error: null } : { types, error: 'no plugin type in the file' };
}
