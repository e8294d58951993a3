/**
 * The batched AES-GCM path (src/capture/esp/gcm-batch.ts) against scapy's ESP (make_vectors.py):
 * it must be the path actually taken for good packets, give scapy's plaintext, and refuse a batch in
 * which any one bit of any packet is wrong, so that the per-packet check then names the bad packet.
 */

import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EspDecryptor } from '../../src/capture/esp/decryptor.js';
import { gcmBatchCounts, openGcmBatch } from '../../src/capture/esp/gcm-batch.js';
import { SaTable } from '../../src/capture/esp/sa-table.js';
import { type CapturedPacket, LinkType } from '../../src/capture/packet.js';
import { parseXfrmState } from '../../src/parse/xfrm.js';
import { makeVectors, readPcapFile, type Vectors } from './helpers.js';

let v: Vectors;
let table: SaTable;
before(() => {
  v = makeVectors(['--count', '6']); // six rounds: six good gcm128 packets, six tampered
  table = new SaTable(parseXfrmState(readFileSync(join(v.dir, 'xfrm-state.txt'), 'utf8'), { keepKeys: true }).states);
});
after(() => v.cleanup());

const frames = (file: string): CapturedPacket[] =>
  readPcapFile(join(v.dir, file)).records.map((r) => ({
    tsSec: r.sec,
    tsNsec: r.frac * 1000,
    origLen: r.origLen,
    linkType: LinkType.ethernet,
    data: r.data,
  }));

/** Indexes of the packets of `kind` whose SA is `sa` in ether.pcap. */
const indexes = (kind: string, sa: string): number[] =>
  v.manifest.packets.flatMap((p, i) => (p.kind === kind && p.sa === sa ? [i] : []));

/** The ESP of an IPv4 tunnel packet on Ethernet (no NAT-T): from the ESP header through the ICV. */
const espOf = (frame: Buffer): Buffer => {
  const ihl = (frame[14]! & 0xf) * 4;
  return frame.subarray(14 + ihl, 14 + frame.readUInt16BE(16));
};

const gcm128 = (): (typeof table.sas)[number] => table.sas.find((s) => s.spi === 0xcfc2f79d)!;

test('good GCM packets of one SA open as one batch, to the bytes scapy encrypted', () => {
  const input = frames('ether.pcap');
  const expected = frames('ether.expected.pcap');
  const ok = indexes('esp-ok', 'gcm128');
  assert.equal(ok.length, 6);
  const before = { ...gcmBatchCounts };
  const out = new EspDecryptor(table).processBatch(ok.map((i) => input[i]!));
  assert.deepEqual(
    out.map((p) => p.data),
    ok.map((i) => expected[i]!.data),
  );
  assert.equal(gcmBatchCounts.batches - before.batches, 1);
  assert.equal(gcmBatchCounts.packets - before.packets, ok.length);
  assert.equal(gcmBatchCounts.failedBatches, before.failedBatches);
});

test('one wrong bit anywhere in any packet of the batch (header, IV, ciphertext, ICV) fails the batch', () => {
  const input = frames('ether.pcap');
  const esps = indexes('esp-ok', 'gcm128').map((i) => espOf(input[i]!.data));
  assert.notEqual(openGcmBatch(gcm128(), esps), null);
  for (let k = 0; k < esps.length; k++) {
    const len = esps[k]!.length;
    for (const at of [0, 5, 8, 15, 16, 17, Math.floor(len / 2), len - 17, len - 16, len - 1]) {
      const bad = esps.map((e) => Buffer.from(e));
      bad[k]![at]! ^= 0x01;
      assert.equal(openGcmBatch(gcm128(), bad), null, `packet ${k} byte ${at}`);
    }
  }
  // Each tag is right for its own packet only: swapped tags must not pass.
  const swapped = esps.map((e) => Buffer.from(e));
  const [a, b] = [swapped[0]!, swapped[1]!];
  const ta = Buffer.from(a.subarray(a.length - 16));
  b.subarray(b.length - 16).copy(a, a.length - 16);
  ta.copy(b, b.length - 16);
  assert.equal(openGcmBatch(gcm128(), swapped), null);
  // Packets are independent: any order of authentic packets passes.
  assert.notEqual(openGcmBatch(gcm128(), [...esps].reverse()), null);
});

test('a tampered packet among good ones: the batch fails, each packet is checked alone, only it is kept', () => {
  const input = frames('ether.pcap');
  const expected = frames('ether.expected.pcap');
  const ok = indexes('esp-ok', 'gcm128');
  const bad = indexes('tampered', 'gcm128');
  assert.ok(bad.length >= 1);
  const order = [...ok.slice(0, 2), bad[0]!, ...ok.slice(2)];
  const before = { ...gcmBatchCounts };
  const d = new EspDecryptor(table);
  const out = d.processBatch(order.map((i) => input[i]!));
  assert.equal(gcmBatchCounts.failedBatches - before.failedBatches, 1);
  order.forEach((i, k) => {
    assert.deepEqual(out[k]!.data, (i === bad[0] ? input : expected)[i]!.data, `packet ${i + 1}`);
  });
  assert.equal(d.stats.decrypted, ok.length);
  assert.equal(d.stats.failures.get('integrity check failed'), 1);
});

test('authentic packets with a bad ESP trailer in a batch: named as the per-packet path names them, kept as captured', () => {
  const input = frames('ether.pcap');
  const expected = frames('ether.expected.pcap');
  const ok = indexes('esp-ok', 'gcm128');
  const sa = gcm128();
  if (sa.cipher.kind !== 'gcm') throw new Error('gcm128 is not GCM');
  const { key, salt } = sa.cipher;
  // A good packet's Ethernet and IPv4 headers around ESP that Node's OpenSSL encrypts: the tag is right,
  // the trailer is not (a pad length longer than the plaintext; a plaintext too short for a trailer).
  const forge = (plain: Buffer, seq: number): CapturedPacket => {
    const base = input[ok[0]!]!.data;
    const hdr = Buffer.alloc(8);
    hdr.writeUInt32BE(sa.spi, 0);
    hdr.writeUInt32BE(seq, 4);
    const iv = Buffer.from([1, 2, 3, 4, 5, 6, 7, seq]);
    const c = createCipheriv('aes-128-gcm', key, Buffer.concat([salt, iv]));
    c.setAAD(hdr);
    const ct = Buffer.concat([c.update(plain), c.final()]);
    const ip = Buffer.from(base.subarray(14, 34));
    ip.writeUInt16BE(20 + 16 + ct.length + 16, 2);
    const data = Buffer.concat([base.subarray(0, 14), ip, hdr, iv, ct, c.getAuthTag()]);
    return { tsSec: 1, tsNsec: 0, origLen: data.length, linkType: LinkType.ethernet, data };
  };
  const badPad = forge(Buffer.from([0x45, 0x00, 0xff, 4]), 200);
  const short = forge(Buffer.from([4]), 201);
  const batch = [input[ok[0]!]!, badPad, input[ok[1]!]!, short, input[ok[2]!]!];
  const before = { ...gcmBatchCounts };
  const d = new EspDecryptor(table);
  const out = d.processBatch(batch);
  assert.equal(gcmBatchCounts.batches - before.batches, 1);
  assert.equal(gcmBatchCounts.failedBatches, before.failedBatches, 'every tag is right: the batch passes');
  assert.deepEqual(
    out.map((p) => p.data),
    [expected[ok[0]!]!.data, badPad.data, expected[ok[1]!]!.data, short.data, expected[ok[2]!]!.data],
  );
  assert.equal(d.stats.decrypted, 3);
  assert.deepEqual(
    [...d.stats.failures],
    [
      ['invalid padding', 1],
      ['malformed ESP', 1],
    ],
  );
  // The per-packet path (one packet alone is not batched) names them the same.
  const one = new EspDecryptor(table);
  one.process(badPad);
  one.process(short);
  assert.deepEqual([...one.stats.failures], [...d.stats.failures]);
});
