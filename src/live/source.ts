/**
 * One capture source: a tcpdump on one node interface (or in one pod's netns) streaming pcap through
 * an exec WebSocket, cut into packet batches by the same CaptureReader that reads files.
 */
import { PassThrough } from 'node:stream';
import type { Exec } from '@kubernetes/client-node';
import type { PacketBatch } from '../capture/packet.js';
import { CaptureReader } from '../capture/pcap-reader.js';
import type { PodTarget } from '../collectors/node/pod-runner.js';
import { KubeAccessError } from '../kube/errors.js';
import { type ExecResult, execInPod } from '../kube/exec.js';
import {
  isListening,
  parseCounters,
  STOP_LINE,
  type TcpdumpCounters,
  type TcpdumpSpec,
  tcpdumpArgv,
  tcpdumpError,
} from './tcpdump.js';

/** What a pcap stream's global header says. */
export interface StreamHeader {
  readonly linkType: number;
  readonly snaplen: number;
  readonly nanosecond: boolean;
}

/** Chunks pushed by a callback, read as an async iterable (the exec stream gives no back-pressure). */
class ChunkQueue implements AsyncIterable<Buffer> {
  private readonly chunks: Buffer[] = [];
  private done = false;
  private wake: (() => void) | null = null;
  bytes = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.bytes += b.length;
    this.wake?.();
  }
  end(): void {
    this.done = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.chunks.length > 0) {
        // Everything queued at once: fewer, larger reader passes when the stream is fast.
        const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
        this.chunks.length = 0;
        yield all;
      } else if (this.done) return;
      else await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}

/** Reads the 24-byte pcap header as it passes, so the source's interface can be described. */
function peekHeader(b: Buffer): StreamHeader | null {
  if (b.length < 24) return null;
  const le = b.readUInt32LE(0);
  const be = b.readUInt32BE(0);
  const little = le === 0xa1b2c3d4 || le === 0xa1b23c4d;
  if (!little && be !== 0xa1b2c3d4 && be !== 0xa1b23c4d) return null;
  const u32 = (o: number) => (little ? b.readUInt32LE(o) : b.readUInt32BE(o));
  return { linkType: u32(20) & 0xffff, snaplen: u32(16), nanosecond: (little ? le : be) === 0xa1b23c4d };
}

export interface SourceEvents {
  /** The pcap header arrived; resolves once the source's interface is described in the output. */
  onHeader(h: StreamHeader): Promise<void>;
  onBatch(batch: PacketBatch): void;
  /** tcpdump said "listening on …". */
  onListening?(): void;
}

export interface SourceResult {
  readonly exec: ExecResult | null;
  readonly counters: TcpdumpCounters;
  /** Why the source produced nothing usable, or ended badly. */
  readonly error: string | null;
  readonly bytes: number;
  readonly packets: number;
  readonly startedMs: number;
  readonly endedMs: number;
}

export class LiveSource {
  private readonly stdin = new PassThrough();
  private stderr = '';
  private stopped = false;
  listening = false;

  constructor(
    readonly name: string,
    readonly spec: TcpdumpSpec,
    /** How the source is reached, e.g. "flannel pod kube-flannel/kube-flannel-ds-x". */
    readonly via: string,
    private readonly target: PodTarget,
  ) {}

  /** Ends the capture cleanly: tcpdump gets SIGINT, flushes and reports its counters. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stdin.write(STOP_LINE);
  }

  async run(exec: Exec, events: SourceEvents, opts: { timeoutMs: number; signal: AbortSignal }): Promise<SourceResult> {
    const startedMs = Date.now();
    const queue = new ChunkQueue();
    let header: StreamHeader | null = null;
    let head: Buffer = Buffer.alloc(0);
    let packets = 0;
    let readError: string | null = null;
    const consume = (async () => {
      const reader = new CaptureReader(
        (async function* (self: LiveSource) {
          for await (const chunk of queue) {
            if (!header) {
              head = head.length ? Buffer.concat([head, chunk]) : chunk;
              header = peekHeader(head);
              if (!header) {
                if (head.length >= 24) throw new Error(`${self.name}: tcpdump did not write a pcap stream`);
                continue;
              }
              await events.onHeader(header);
              yield head;
              continue;
            }
            yield chunk;
          }
        })(this),
        this.name,
      );
      try {
        for await (const batch of reader) {
          packets += batch.length;
          events.onBatch(batch);
        }
        if (reader.truncatedTail) readError = 'the stream ended inside a packet (the exec connection was cut)';
      } catch (e) {
        readError = (e as Error).message;
        // Keep draining so a failed parse never blocks the exec stream.
        for await (const _ of queue);
      }
    })();

    let result: ExecResult | null = null;
    let execError: string | null = null;
    try {
      result = await execInPod(exec, {
        ...this.target,
        argv: tcpdumpArgv(this.spec),
        timeoutMs: opts.timeoutMs,
        signal: opts.signal,
        stdin: this.stdin,
        onStdout: (c) => queue.push(c),
        onStderr: (c) => {
          this.stderr += c.toString('utf8');
          if (!this.listening && isListening(this.stderr)) {
            this.listening = true;
            events.onListening?.();
          }
        },
      });
    } catch (e) {
      execError = e instanceof KubeAccessError ? e.message : `exec failed: ${(e as Error).message}`;
    } finally {
      queue.end();
      this.stdin.end();
    }
    await consume;
    const stderr = result?.stderr ?? this.stderr;
    const counters = parseCounters(stderr);
    let error = execError ?? readError;
    if (!error && result && result.status !== 'ok') {
      const why = tcpdumpError(stderr);
      if (result.toolMissing) error = `tcpdump is not installed in ${this.via}`;
      else if (result.status === 'timeout')
        error = null; // our hard deadline after the stop; data is kept
      else if (why) error = why;
      else if (!(counters.captured !== null && this.stopped)) error = result.error ?? `exit code ${result.exitCode}`;
    }
    return {
      exec: result,
      counters,
      error,
      bytes: queue.bytes,
      packets,
      startedMs,
      endedMs: Date.now(),
    };
  }
}
