/**
 * udp's data plane is flanneld in user space: it reads flannel0 and its UDP socket and writes the other. A flanneld
 * that does not answer /healthz (hung, or dead under a pod still shown Running) moves no packet in either direction,
 * although every kernel entry is in place. The walk and trace both stop the packet there; this decides when.
 */
import type { HostState } from '../snapshot/types.js';
import { ok } from './model.js';

export interface FlanneldSilence {
  /** what the probe asked, as evidence: `GET http://127.0.0.1:<port>/healthz: <detail>` */
  readonly probe: string;
  /** `no answer` or `HTTP <code>` */
  readonly answer: string;
}

/** Why the node's flanneld moves no udp packet, or null when it answers /healthz (or was not asked). */
export function flanneldSilence(host: HostState): FlanneldSilence | null {
  const h = ok(host.flanneldHealth);
  if (!h || h.healthz.code === 200) return null;
  return {
    probe: `GET http://127.0.0.1:${h.port}/healthz: ${h.healthz.detail}`,
    answer: h.healthz.code === null ? 'no answer' : `HTTP ${h.healthz.code}`,
  };
}
