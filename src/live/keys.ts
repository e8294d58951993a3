/**
 * The SAs a live --decrypt-esp uses: `ip xfrm state` (with keys) read from every captured node when
 * the capture starts, and again when a packet names an SPI none of them knows (a rekey), at most
 * once per `minIntervalMs`. Keys stay in this process's memory; nothing here writes them anywhere.
 */
import type { Exec } from '@kubernetes/client-node';
import { SaTable } from '../capture/esp/sa-table.js';
import { PodExecRunner, type PodTarget } from '../collectors/node/pod-runner.js';
import { parseXfrmState } from '../parse/xfrm.js';
import type { XfrmState } from '../snapshot/types.js';

export interface NodeKeySource {
  readonly node: string;
  readonly target: PodTarget;
}

export interface KeyRead {
  readonly table: SaTable;
  /** Per node: SAs read, or why none could be. */
  readonly perNode: ReadonlyMap<string, { readonly sas: number } | { readonly error: string }>;
}

export class LiveKeys {
  reads = 0;
  private lastRead = 0;
  private pending: Promise<KeyRead> | null = null;
  /** SPIs a re-read was already done for: one re-read per new SPI, not one per packet. */
  private readonly asked = new Set<number>();

  constructor(
    private readonly exec: Exec,
    private readonly nodes: readonly NodeKeySource[],
    /** SAs from --xfrm-state, always included. */
    private readonly extra: readonly XfrmState[],
    private readonly timeoutMs: number,
    private readonly minIntervalMs = 2000,
  ) {}

  async read(): Promise<KeyRead> {
    this.reads++;
    this.lastRead = Date.now();
    const perNode = new Map<string, { sas: number } | { error: string }>();
    const all: XfrmState[] = [...this.extra];
    await Promise.all(
      this.nodes.map(async (n) => {
        const r = await new PodExecRunner(this.exec, n.target, { timeoutMs: this.timeoutMs }).run([
          'ip',
          'xfrm',
          'state',
        ]);
        if (r.exitCode !== 0) {
          perNode.set(n.node, { error: r.error ?? (r.stderr.trim() || `exit code ${r.exitCode}`) });
          return;
        }
        const { states } = parseXfrmState(r.stdout, { keepKeys: true });
        perNode.set(n.node, { sas: states.filter((s) => s.proto === 'esp').length });
        all.push(...states);
      }),
    );
    return { table: new SaTable(all), perNode };
  }

  /**
   * A fresh table if `spis` holds an SPI not asked about before and the last read is old enough;
   * null otherwise. Concurrent callers share one read.
   */
  refreshFor(spis: Iterable<number>): Promise<KeyRead> | null {
    const fresh = [...spis].filter((s) => !this.asked.has(s));
    if (fresh.length === 0 || this.pending || Date.now() - this.lastRead < this.minIntervalMs) return null;
    for (const s of fresh) this.asked.add(s);
    this.pending = this.read().finally(() => (this.pending = null));
    return this.pending;
  }
}
