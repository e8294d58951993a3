/** Long lists of node names made short enough to read: numbered names collapse into ranges. */

/**
 * `node-1`, `node-2`, `node-3`, `node-7` → `node-[1-3,7]`; names without a trailing number stay
 * as they are. Cut at `budget` characters with a count of the rest (JSON output lists them all).
 */
export function compactNames(names: readonly string[], budget: number): string {
  const families = new Map<string, number[]>();
  const plain: string[] = [];
  for (const n of names) {
    const m = /^(.*?)(0|[1-9]\d{0,8})$/.exec(n);
    if (!m) {
      plain.push(n);
      continue;
    }
    const list = families.get(m[1]!);
    if (list) list.push(Number(m[2]));
    else families.set(m[1]!, [Number(m[2])]);
  }
  const parts: { text: string; count: number }[] = [];
  for (const [prefix, nums] of families) {
    nums.sort((a, b) => a - b);
    if (nums.length === 1) {
      parts.push({ text: `${prefix}${nums[0]}`, count: 1 });
      continue;
    }
    const runs: string[] = [];
    for (let i = 0; i < nums.length; ) {
      let j = i;
      while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
      if (j === i + 1) runs.push(`${nums[i]}`, `${nums[j]}`);
      else runs.push(j > i ? `${nums[i]}-${nums[j]}` : `${nums[i]}`);
      i = j + 1;
    }
    parts.push({ text: `${prefix}[${runs.join(',')}]`, count: nums.length });
  }
  for (const p of plain) parts.push({ text: p, count: 1 });
  let out = '';
  let shown = 0;
  for (const p of parts) {
    const next = out ? `${out}, ${p.text}` : p.text;
    const rest = names.length - shown - p.count;
    if (next.length > budget && out) {
      return `${out}, … ${names.length - shown} more`;
    }
    if (next.length > budget) {
      // One family alone too long: cut inside its ranges.
      const cut = p.text.slice(0, Math.max(0, budget - 12)).replace(/,[^,]*$/, '');
      return `${cut},…] (${names.length} in all)`;
    }
    out = next;
    shown += p.count;
    if (rest === 0) break;
  }
  return out;
}
