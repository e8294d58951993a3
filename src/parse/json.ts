import { issue, type ParseIssue } from './issue.js';

/** A JSON object as iproute2 prints it; fields are read through the helpers below. */
export type JsonObject = Record<string, unknown>;

/**
 * Reads the top-level array iproute2 prints with `-j`. Empty output is an empty list (e.g. no
 * neighbours); anything else that is not an array of objects is one issue with the line where
 * JSON.parse stopped.
 */
export function parseJsonArray(text: string): { items: JsonObject[]; errors: ParseIssue[] } {
  const trimmed = text.trim();
  if (trimmed === '') return { items: [], errors: [] };
  let data: unknown;
  try {
    data = JSON.parse(trimmed);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const line = lineOfError(trimmed, message);
    return { items: [], errors: [issue(line, trimmed.split('\n')[line - 1] ?? '', `not valid JSON: ${message}`)] };
  }
  if (!Array.isArray(data)) return { items: [], errors: [issue(1, trimmed.slice(0, 80), 'expected a JSON array')] };
  const items: JsonObject[] = [];
  const errors: ParseIssue[] = [];
  data.forEach((entry, i) => {
    if (entry !== null && typeof entry === 'object' && !Array.isArray(entry)) items.push(entry as JsonObject);
    else errors.push(issue(1, JSON.stringify(entry) ?? '', `entry ${i + 1} is not an object`));
  });
  return { items, errors };
}

function lineOfError(text: string, message: string): number {
  const byLine = /line (\d+)/.exec(message);
  if (byLine?.[1]) return Number(byLine[1]);
  const byPos = /position (\d+)/.exec(message);
  if (byPos?.[1]) return text.slice(0, Number(byPos[1])).split('\n').length;
  return 1;
}

export function str(o: JsonObject, key: string): string | null {
  const v = o[key];
  return typeof v === 'string' ? v : null;
}

export function num(o: JsonObject, key: string): number | null {
  const v = o[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function bool(o: JsonObject, key: string): boolean | null {
  const v = o[key];
  return typeof v === 'boolean' ? v : null;
}

export function strings(o: JsonObject, key: string): string[] {
  const v = o[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function obj(o: JsonObject, key: string): JsonObject | null {
  const v = o[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : null;
}

/** A compact description of an entry for an issue's `text`. */
export function entryText(o: JsonObject): string {
  return JSON.stringify(o);
}
