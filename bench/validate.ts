/**
 * Benchmark: validating the N-node bench snapshot (default 1,000 nodes, as bench/analyze.ts) against
 * the snapshot schema with each candidate library, next to doctor's analysis time of the same snapshot.
 * The budget is 20% of the analysis. The schema is src/snapshot/schema.ts (TypeBox); zod and valibot
 * get the same schema converted node by node, so every candidate checks exactly the same fields.
 * The snapshot goes through JSON first, as `doctor --from` reads it. Run:
 *   npx tsc -p . && node --max-old-space-size=8192 dist/bench/validate.js [NODES]
 */
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import * as v from 'valibot';
import * as z from 'zod';
import { analyze } from '../src/analyzers/run.js';
import { Snapshot as SnapshotSchema } from '../src/snapshot/schema.js';
import { syntheticSnapshot } from './synthetic.js';

interface Node {
  type?: string;
  const?: string | number | boolean;
  anyOf?: Node[];
  properties?: Record<string, Node>;
  required?: string[];
  patternProperties?: Record<string, Node>;
  items?: Node;
}

function toZod(s: Node): z.ZodType {
  if (s.anyOf) return z.union(s.anyOf.map(toZod) as [z.ZodType, z.ZodType]);
  if (s.const !== undefined) return z.literal(s.const);
  switch (s.type) {
    case 'string':
      return z.string();
    case 'number':
      return z.number();
    case 'boolean':
      return z.boolean();
    case 'null':
      return z.null();
    case 'array':
      return z.array(toZod(s.items!));
    case 'object': {
      const pattern = Object.values(s.patternProperties ?? {})[0];
      if (pattern) return z.record(z.string(), toZod(pattern));
      const shape: Record<string, z.ZodType> = {};
      for (const [k, p] of Object.entries(s.properties ?? {}))
        shape[k] = s.required?.includes(k) ? toZod(p) : toZod(p).optional();
      return z.object(shape);
    }
  }
  throw new Error(`no zod form for ${JSON.stringify(s).slice(0, 80)}`);
}

type VSchema = v.GenericSchema;
function toValibot(s: Node): VSchema {
  if (s.anyOf) return v.union(s.anyOf.map(toValibot));
  if (s.const !== undefined) return v.literal(s.const);
  switch (s.type) {
    case 'string':
      return v.string();
    case 'number':
      return v.number();
    case 'boolean':
      return v.boolean();
    case 'null':
      return v.null();
    case 'array':
      return v.array(toValibot(s.items!));
    case 'object': {
      const pattern = Object.values(s.patternProperties ?? {})[0];
      if (pattern) return v.record(v.string(), toValibot(pattern));
      const entries: Record<string, VSchema> = {};
      for (const [k, p] of Object.entries(s.properties ?? {}))
        entries[k] = s.required?.includes(k) ? toValibot(p) : v.optional(toValibot(p));
      return v.object(entries);
    }
  }
  throw new Error(`no valibot form for ${JSON.stringify(s).slice(0, 80)}`);
}

const N = Number(process.argv[2] ?? 1000);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
function time<T>(f: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = f();
  return { ms: performance.now() - t0, value };
}

const snapshot: unknown = JSON.parse(JSON.stringify(syntheticSnapshot(N)));
console.log(`nodes: ${N}, per node: ${N - 1} routes + ${N - 1} neighbours + ${N - 1} fdb entries`);
const analysis = time(() => analyze(snapshot as Parameters<typeof analyze>[0]));
console.log(`doctor's analysis: ${seconds(analysis.ms)} (${analysis.value.findings.length} findings)`);

const schema = SnapshotSchema as TSchema as Node;
const candidates: [string, () => () => boolean][] = [
  [
    'typebox 1.4.3 (Compile + Check)',
    () => {
      const c = Compile(SnapshotSchema);
      return () => c.Check(snapshot);
    },
  ],
  [
    'zod 4.6.7 (safeParse)',
    () => {
      const c = toZod(schema);
      return () => c.safeParse(snapshot).success;
    },
  ],
  [
    'valibot 1.5.0 (safeParse)',
    () => {
      const c = toValibot(schema);
      return () => v.safeParse(c, snapshot).success;
    },
  ],
];
for (const [name, make] of candidates) {
  const build = time(make);
  const check = build.value;
  const run = time(check);
  if (!run.value) throw new Error(`${name} rejected the bench snapshot`);
  const pct = ((build.ms + run.ms) / analysis.ms) * 100;
  console.log(
    `${name}: ${seconds(run.ms)} to validate + ${seconds(build.ms)} to build = ${pct.toFixed(1)}% of the analysis ${pct <= 20 ? '(within the 20% budget)' : '(over the 20% budget)'}`,
  );
  globalThis.gc?.();
}
