/**
 * Checks a parsed snapshot against the schema before anything else reads it. The compiled
 * TypeBox check is the fast path; only a snapshot that fails it is walked again, here, to
 * name the first wrong field by its JSON path and say what was expected.
 */
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { UserError } from '../errors.js';
import { Snapshot as SnapshotSchema } from './schema.js';
import type { Snapshot } from './types.js';

let compiled: ReturnType<typeof Compile<typeof SnapshotSchema>> | null = null;

export function validateSnapshot(value: unknown, name: string): Snapshot {
  compiled ??= Compile(SnapshotSchema);
  if (compiled.Check(value)) return value as Snapshot;
  const problem = explain(SnapshotSchema, value, '') ?? 'does not match the snapshot schema';
  throw new UserError(`${name} is not a valid snapshot: ${problem}`);
}

/** The schema nodes TypeBox builds, as JSON Schema: only the keywords schema.ts uses. */
interface Node {
  readonly type?: string;
  readonly const?: unknown;
  readonly anyOf?: readonly Node[];
  readonly properties?: Readonly<Record<string, Node>>;
  readonly required?: readonly string[];
  readonly patternProperties?: Readonly<Record<string, Node>>;
  readonly items?: Node;
}

/** The first mismatch as "path: expected …, got …", or null when the value fits. */
export function explain(schema: TSchema, value: unknown, path: string): string | null {
  const s = schema as Node;
  if (s.anyOf) return explainUnion(s.anyOf, value, path);
  if ('const' in s)
    return value === s.const ? null : at(path, `expected ${JSON.stringify(s.const)}, got ${describe(value)}`);
  switch (s.type) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'null':
      return kindOf(value) === s.type ? null : at(path, `expected ${s.type}, got ${describe(value)}`);
    case 'array': {
      if (!Array.isArray(value)) return at(path, `expected array, got ${describe(value)}`);
      for (let i = 0; i < value.length; i++) {
        const e = explain(s.items as TSchema, value[i], `${path}[${i}]`);
        if (e) return e;
      }
      return null;
    }
    case 'object': {
      if (kindOf(value) !== 'object') return at(path, `expected object, got ${describe(value)}`);
      const o = value as Record<string, unknown>;
      for (const key of s.required ?? []) if (!(key in o)) return at(join(path, key), 'missing');
      for (const [key, sub] of Object.entries(s.properties ?? {})) {
        if (o[key] === undefined) continue;
        const e = explain(sub as TSchema, o[key], join(path, key));
        if (e) return e;
      }
      const pattern = Object.values(s.patternProperties ?? {})[0];
      if (pattern)
        for (const [key, v] of Object.entries(o)) {
          const e = explain(pattern as TSchema, v, join(path, key));
          if (e) return e;
        }
      return null;
    }
    default:
      return null;
  }
}

/**
 * A union is explained by the branch the value means to be: the one whose tag (a property
 * with constant values, like `status` or `type`) the value carries; a value of no branch's
 * shape is named with every alternative.
 */
function explainUnion(branches: readonly Node[], value: unknown, path: string): string | null {
  const errors = branches.map((b) => explain(b as TSchema, value, path));
  if (errors.includes(null)) return null;
  if (kindOf(value) === 'object') {
    const o = value as Record<string, unknown>;
    const tagged = branches.flatMap((b, i) => {
      const tag = tagOf(b);
      return tag ? [{ i, tag, values: constants(b.properties![tag]!) }] : [];
    });
    const tag = tagged[0]?.tag;
    if (tag !== undefined && tagged.every((t) => t.tag === tag)) {
      const chosen = tagged.find((t) => t.values.includes(o[tag]));
      if (chosen) return errors[chosen.i]!;
      const allowed = tagged.flatMap((t) => t.values).map((v) => JSON.stringify(v));
      if (o[tag] === undefined) return at(join(path, tag), `missing (expected one of ${allowed.join(', ')})`);
      return at(join(path, tag), `expected one of ${allowed.join(', ')}, got ${describe(o[tag])}`);
    }
  }
  const kinds = branches.map((b) => ('const' in b ? JSON.stringify(b.const) : (b.type ?? 'value')));
  const sameKind = branches.findIndex((b) => b.type === kindOf(value));
  if (sameKind >= 0 && branches.filter((b) => b.type === kindOf(value)).length === 1) return errors[sameKind]!;
  return at(path, `expected ${[...new Set(kinds)].join(' or ')}, got ${describe(value)}`);
}

function tagOf(b: Node): string | undefined {
  if (b.type !== 'object' || !b.properties) return undefined;
  return Object.keys(b.properties).find((k) => constants(b.properties![k]!).length > 0);
}

function constants(s: Node): unknown[] {
  if ('const' in s) return [s.const];
  if (s.anyOf?.every((b) => 'const' in b)) return s.anyOf.map((b) => b.const);
  return [];
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function describe(v: unknown): string {
  const k = kindOf(v);
  if (k === 'string') {
    const s = v as string;
    return `string ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}`;
  }
  if (k === 'number' || k === 'boolean') return `${k} ${String(v)}`;
  return k;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;
function join(path: string, key: string): string {
  const seg = IDENT.test(key) ? key : JSON.stringify(key);
  if (!IDENT.test(key)) return `${path}[${seg}]`;
  return path ? `${path}.${seg}` : seg;
}

function at(path: string, what: string): string {
  return `${path || '(top level)'}: ${what}`;
}
