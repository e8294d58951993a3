/**
 * `capture` offline: reader -> (decryptor) -> (writer), plus the optional Wireshark key table.
 * Streams are injected so tests and a future live capture can drive the same code.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../errors.js';
import { LIMITS, readBounded, sameFile } from '../files.js';
import { redactXfrmStateText } from '../parse/redact/xfrm.js';
import { parseXfrmState } from '../parse/xfrm.js';
import type { XfrmState } from '../snapshot/types.js';
import { EspDecryptor } from './esp/decryptor.js';
import { ParallelEspDecryptor } from './esp/parallel.js';
import { SaTable } from './esp/sa-table.js';
import { espSaTable } from './esp/wireshark-keys.js';
import { LinkType } from './packet.js';
import { fileSource, PcapChunker, streamSource } from './pcap-chunks.js';
import { CaptureReader, pcapHeader } from './pcap-reader.js';
import { PCAP_HEADER } from './pcap-records.js';
import { PcapWriter } from './pcap-writer.js';
import { formatSummary } from './summary.js';

export interface CaptureOptions {
  readonly read?: string;
  readonly write?: string;
  readonly xfrmState?: string;
  readonly decryptEsp?: boolean;
  readonly writeKeys?: string;
  /** Worker threads for decryption of a pcap (default defaultThreads()); 0 decrypts on the main thread. */
  readonly threads?: number;
}

export interface CaptureIo {
  readonly stdin: Readable & { isTTY?: boolean };
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable;
}

function validate(o: CaptureOptions, io: CaptureIo): void {
  if (!o.read) {
    if (o.decryptEsp || o.write)
      throw new UserError('live capture is not available yet: give a file with --read FILE (-r FILE)');
    if (!o.writeKeys) throw new UserError('nothing to do: give --read FILE, or --xfrm-state FILE --write-keys FILE');
  }
  if (o.decryptEsp && !o.xfrmState)
    throw new UserError('--decrypt-esp needs the keys: add --xfrm-state FILE (the output of `ip xfrm state` as root)');
  if (o.writeKeys && !o.xfrmState) throw new UserError('--write-keys needs --xfrm-state FILE to take the keys from');
  if (o.xfrmState && !o.decryptEsp && !o.writeKeys)
    throw new UserError('--xfrm-state is only used with --decrypt-esp or --write-keys');
  if (o.read === '-' && o.xfrmState === '-') throw new UserError('--read and --xfrm-state cannot both be stdin');
  if (o.threads !== undefined && (!Number.isInteger(o.threads) || o.threads < 0 || o.threads > 64)) {
    throw new UserError('--threads: expected a whole number from 0 to 64');
  }
  if (o.xfrmState === '-') throw new UserError('--xfrm-state must be a file');
  if (o.read === '-' && io.stdin.isTTY)
    throw new UserError('--read -: stdin is a terminal; pipe a capture in, e.g. `tcpdump -w - | …`');
  if (o.write === '-' && io.stdout.isTTY)
    throw new UserError('refusing to write pcap data to a terminal: redirect stdout or give --write FILE');
  // Outputs never overwrite an input or each other, however the paths are spelled (compared as real paths).
  const outputs = [
    ['--write', o.write],
    ['--write-keys', o.writeKeys],
  ] as const;
  const inputs = [
    ['--read', o.read],
    ['--xfrm-state', o.xfrmState],
  ] as const;
  for (const [outFlag, out] of outputs) {
    if (!out || out === '-') continue;
    for (const [inFlag, input] of inputs)
      if (input && input !== '-' && sameFile(out, input))
        throw new UserError(`${outFlag} ${out} is the same file as ${inFlag} ${input}: it would overwrite the input`);
  }
  if (o.writeKeys && o.write && o.write !== '-' && sameFile(o.writeKeys, o.write))
    throw new UserError('--write-keys and --write name the same file');
}

async function loadSas(path: string, io: CaptureIo): Promise<SaTable> {
  const states = await readXfrmStateFile(path, io);
  const warn = (line: string): void => void io.stderr.write(`${redactXfrmStateText(line)}\n`);
  const table = new SaTable(states);
  for (const s of table.skipped) {
    warn(
      `warning: ${path}: SA spi 0x${s.state.spi.toString(16).padStart(8, '0')} ${s.state.src} -> ${s.state.dst} skipped: ${s.reason}`,
    );
  }
  if (table.sas.length === 0) {
    throw new UserError(
      `--xfrm-state ${path}: no usable ESP SA (${states.length} SAs parsed, ${table.skipped.length} unusable); ` +
        'it should hold `ip xfrm state` output, run as root so keys are shown',
    );
  }
  return table;
}

/**
 * One decryption worker per core, up to 4 (each ~430 MB/s on this machine: more would wait on the disk and cost
 * memory and start-up); none on one core. Measured in bench/esp/threads.ts: on 2 cores the busiest thread has
 * 0.37 CPU-seconds of work for the bench file instead of 0.80, for 1.26 CPU-seconds in all instead of 1.11.
 */
export function defaultThreads(): number {
  const cores = availableParallelism();
  return cores > 1 ? Math.min(cores, 4) : 0;
}

/** The input: stdin, or an open file (read as a stream, or straight into the workers' chunks). */
type Input = { kind: 'stream'; stream: AsyncIterable<Buffer> } | { kind: 'file'; fh: FileHandle };

async function openInput(path: string, io: CaptureIo): Promise<Input> {
  if (path === '-') return { kind: 'stream', stream: io.stdin as AsyncIterable<Buffer> };
  try {
    return { kind: 'file', fh: await open(path, 'r') };
  } catch (e) {
    throw new UserError(`--read ${path}: cannot open: ${(e as Error).message}`);
  }
}

function inputStream(input: Input): AsyncIterable<Buffer> {
  return input.kind === 'stream'
    ? input.stream
    : (input.fh.createReadStream({ highWaterMark: 1 << 20, autoClose: true }) as AsyncIterable<Buffer>);
}

/**
 * Workers take chunks of classic pcap records; anything else (pcapng, a header the reader rejects) goes
 * through the reader on this thread, which reports it as it always does. A file's header is read in place
 * (the chunker then reads the file from its start); a stream's first pieces are kept and given back.
 */
async function chunkerOrReader(input: Input, source: string): Promise<PcapChunker | CaptureReader> {
  // A named pipe (`-r <(tcpdump -w - …)`) cannot be read at a position: it is read as the stream it is.
  if (input.kind === 'file' && (await input.fh.stat()).isFile()) {
    const header = Buffer.alloc(PCAP_HEADER);
    const { bytesRead } = await input.fh.read(header, 0, PCAP_HEADER, 0).catch((e: Error) => {
      throw inputError(e, source);
    });
    const h = pcapHeader(header.subarray(0, bytesRead));
    return h && h.major === 2
      ? new PcapChunker(header, fileSource(input.fh), source)
      : new CaptureReader(inputStream(input), source);
  }
  const { head, rest } = await peekHeader(readWithContext(inputStream(input), source));
  const h = pcapHeader(head);
  return h && h.major === 2
    ? new PcapChunker(head, streamSource(head, rest), source)
    : new CaptureReader(prepend(head, rest), source);
}

export async function openOutput(path: string, io: CaptureIo): Promise<{ stream: Writable; close(): Promise<void> }> {
  if (path === '-') return { stream: io.stdout, close: async () => {} };
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'w');
  } catch (e) {
    throw new UserError(`--write ${path}: cannot create: ${(e as Error).message}`);
  }
  const stream = fh.createWriteStream({ autoClose: true, highWaterMark: 1 << 20 });
  return {
    stream,
    close: () =>
      new Promise((resolve, reject) => {
        stream.once('error', reject);
        stream.end(() => resolve());
      }),
  };
}

/** The SAs with their keys as a Wireshark esp_sa table, mode 0600: the only place keys are ever written. */
export async function writeKeyFile(path: string, table: SaTable, io: CaptureIo): Promise<void> {
  try {
    // chmod as well: `mode` only applies when the file is created, and keys must not stay world-readable.
    const fh = await open(path, 'w', 0o600);
    try {
      await fh.chmod(0o600);
      await fh.writeFile(espSaTable(table.sas));
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new UserError(`--write-keys ${path}: cannot write: ${(e as Error).message}`);
  }
  io.stderr.write(`wrote ${table.sas.length} SAs with their keys to ${path} (Wireshark esp_sa table)\n`);
}

/** `ip xfrm state` text from a file, with keys (for --decrypt-esp); size-bounded, warnings free of key material. */
export async function readXfrmStateFile(path: string, io: CaptureIo): Promise<XfrmState[]> {
  let text: string;
  try {
    text = (await readBounded(path, LIMITS.xfrmStateBytes, '--xfrm-state')).toString('utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`--xfrm-state ${path}: cannot read: ${(e as Error).message}`);
  }
  const { states, errors } = parseXfrmState(text, { keepKeys: true });
  // The parser already shows malformed lines token by token; the guard makes sure no key material
  // (a long hex or base64 run) reaches the terminal whatever a message was built from.
  for (const e of errors)
    io.stderr.write(`${redactXfrmStateText(`warning: ${path} line ${e.line}: ${e.message}: ${e.text}`)}\n`);
  return states;
}

export async function runCapture(o: CaptureOptions, io: CaptureIo): Promise<void> {
  validate(o, io);
  const table = o.xfrmState ? await loadSas(o.xfrmState, io) : null;
  if (o.writeKeys && table) await writeKeyFile(o.writeKeys, table, io);
  if (!o.read) return;

  const source = o.read === '-' ? 'stdin' : o.read;
  const input = await openInput(o.read, io);
  const threads = o.threads ?? defaultThreads();
  const reader =
    o.decryptEsp && table && threads > 0
      ? await chunkerOrReader(input, source)
      : new CaptureReader(inputStream(input), source);
  const parallel =
    reader instanceof PcapChunker
      ? new ParallelEspDecryptor(
          table!.sas.map((sa) => sa.state),
          reader.layout,
          threads,
          // By default a small input (one chunk) is not worth starting workers for; --threads N always starts them.
          o.threads === undefined,
        )
      : null;
  const decryptor = o.decryptEsp && table && !parallel ? new EspDecryptor(table) : null;
  const output = o.write ? await openOutput(o.write, io) : null;
  let writer: PcapWriter | null = null;
  const linkTypes = new Set<number>();
  let outputError: Error | null = null;
  output?.stream.on('error', (e: Error) => {
    outputError = e;
  });
  const writerFor = (out: NonNullable<typeof output>): PcapWriter =>
    new PcapWriter(out.stream, { nanosecond: reader.format!.nanosecond, snaplen: reader.format!.snaplen }, o.write!);
  try {
    /** One batch (or chunk) written; false when the output failed and reading should stop. */
    const emit = async (write: (w: PcapWriter) => Promise<void>): Promise<boolean> => {
      if (!output) return true;
      if (outputError) return false;
      writer ??= writerFor(output);
      try {
        await write(writer);
      } catch (e) {
        if (e instanceof UserError) throw e;
        outputError = e as Error;
        return false;
      }
      return true;
    };
    if (parallel && reader instanceof PcapChunker) {
      const { linkType } = reader.layout;
      for await (const c of parallel.decrypt(readWithContext(reader, source))) {
        linkTypes.add(linkType);
        const recycle = (): void => (reader as PcapChunker).recycle(c.buffer);
        if (!(await emit((w) => w.writeRecords(c.records, c.count, linkType, recycle)))) break;
      }
    } else if (reader instanceof CaptureReader) {
      for await (const batch of readWithContext(reader, source)) {
        for (const p of batch) linkTypes.add(p.linkType);
        const processed = decryptor ? decryptor.processBatch(batch) : batch;
        if (!(await emit((w) => w.write(processed)))) break;
      }
    }
    if (output && !outputError) {
      writer ??= new PcapWriter(
        output.stream,
        { nanosecond: reader.format?.nanosecond ?? false, snaplen: reader.format?.snaplen ?? 0 },
        o.write!,
      );
      await writer.finish(LinkType.ethernet);
      await output.close();
    }
  } finally {
    await parallel?.close();
    if (reader instanceof PcapChunker && input.kind === 'file') await input.fh.close();
    // Nothing to summarise when the input was not even a capture; the error says why.
    if (reader.format)
      io.stderr.write(
        formatSummary({
          source,
          format: reader.format,
          linkTypes,
          packetsRead: reader.packetsRead,
          truncatedTail: reader.truncatedTail,
          stats: parallel?.stats ?? decryptor?.stats ?? null,
          written: writer ? { target: o.write === '-' ? 'stdout' : o.write!, packets: writer.packetsWritten } : null,
        }),
      );
  }
  const err = outputError as Error | null;
  if (err && (err as NodeJS.ErrnoException).code === 'EPIPE') {
    // Like `tcpdump -w - | head`: the consumer leaving is not an error, but the counts above overstate what it got.
    io.stderr.write('stopped early: the program reading the output closed the pipe\n');
  } else if (err) {
    throw new UserError(`--write ${o.write}: ${err.message}`);
  }
}

/** The input's first pieces until they hold a pcap file header (24 bytes) or the input ends, and the rest. */
async function peekHeader(
  input: AsyncIterable<Buffer | string>,
): Promise<{ head: Buffer; rest: AsyncIterable<Buffer | string> }> {
  const it = input[Symbol.asyncIterator]();
  const pieces: Buffer[] = [];
  let n = 0;
  while (n < PCAP_HEADER) {
    const r = await it.next();
    if (r.done) break;
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    pieces.push(b);
    n += b.length;
  }
  return { head: pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces), rest: { [Symbol.asyncIterator]: () => it } };
}

async function* prepend(head: Buffer, rest: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer | string> {
  if (head.length > 0) yield head;
  yield* rest;
}

/** Read errors from the file system (EISDIR, EIO) name the input instead of surfacing as a stack. */
async function* readWithContext<T>(reader: AsyncIterable<T>, source: string): AsyncGenerator<T> {
  try {
    yield* reader;
  } catch (e) {
    throw inputError(e, source);
  }
}

function inputError(e: unknown, source: string): unknown {
  // Only the file system's errors are the input's fault; a reader bug must surface as one (exit 5).
  if (e instanceof UserError || !(e instanceof Error) || !('syscall' in e)) return e;
  return new UserError(
    `--read ${source}: ${(e as NodeJS.ErrnoException).code === 'EISDIR' ? 'is a directory' : e.message}`,
  );
}
