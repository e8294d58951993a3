/** Terminal styling that respects NO_COLOR, FORCE_COLOR and non-terminals. */
export interface Style {
  readonly red: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly blue: (s: string) => string;
  readonly green: (s: string) => string;
  readonly bold: (s: string) => string;
  readonly dim: (s: string) => string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
const plain = (s: string) => s;

export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, forceOff = false): Style {
  const on =
    !forceOff &&
    !('NO_COLOR' in env && env.NO_COLOR !== '') &&
    (env.FORCE_COLOR ? env.FORCE_COLOR !== '0' : stream.isTTY === true);
  if (!on) return { red: plain, yellow: plain, blue: plain, green: plain, bold: plain, dim: plain };
  return {
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    blue: wrap(34, 39),
    green: wrap(32, 39),
    bold: wrap(1, 22),
    dim: wrap(2, 22),
  };
}
