import type { XfrmPolicy, XfrmState } from '../../snapshot/types.js';

/**
 * The one switch for xfrm parsing. The xfrm parser lives in ./xfrm.ts (another change); until it
 * lands, the collector keeps the raw `ip xfrm` text, reports both parts as skipped, and hides
 * every long hex string (keys are ≥ 64 bits; SPIs, reqids and replay bitmaps are 32 bits).
 * To switch: import { parseXfrmState, parseXfrmPolicy, redactXfrmStateText } from './xfrm.js'
 * and return them from `xfrmParsers`.
 */
export interface XfrmParsers {
  readonly parseState: ((text: string, opts: { keepKeys: boolean }) => { value: XfrmState[]; errors: readonly { line: number; text: string; message: string }[] }) | null;
  readonly parsePolicy: ((text: string) => { value: XfrmPolicy[]; errors: readonly { line: number; text: string; message: string }[] }) | null;
  readonly redactState: (text: string) => string;
}

export function xfrmParsers(): XfrmParsers {
  return {
    parseState: null,
    parsePolicy: null,
    redactState: (text) => text.replace(/0x[0-9a-fA-F]{16,}/g, '0x(redacted)'),
  };
}

export const XFRM_PENDING = 'xfrm parser not yet available';
