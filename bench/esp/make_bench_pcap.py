#!/usr/bin/python3
"""Benchmark input for `capture --decrypt-esp`: flannel-style ESP encrypted by scapy.

Writes OUTDIR/bench.pcap (Ethernet, µs) and OUTDIR/xfrm-state.txt. The traffic is what flannel's
ipsec backend carries between two nodes: rfc4106(gcm(aes)) 128-bit (its default proposal) both
ways, plus one AES-CBC + HMAC-SHA256 SA and one NAT-T (UDP 4500) SA, with inner TCP segments of
64, 512 and 1400 payload bytes. scapy encrypts a base set of distinct packets; the file repeats
that set (with increasing timestamps) up to --packets N so any size can be produced quickly.

Usage: make_bench_pcap.py OUTDIR --packets N
"""
import os
import struct
import sys

from scapy.all import IP, TCP, UDP, Ether, Raw
from scapy.layers.ipsec import ESP, SecurityAssociation

OUT = sys.argv[1]
N = int(sys.argv[sys.argv.index('--packets') + 1])
os.makedirs(OUT, exist_ok=True)
A, B = '172.18.0.3', '172.18.0.4'


def key(seed, n):
    return bytes((seed * 29 + i * 11) & 0xFF for i in range(n))


sas = [
    (0xc1a2b3c4, A, B, dict(crypt_algo='AES-GCM', crypt_key=key(1, 20)), ['aead rfc4106(gcm(aes)) 0x%s 128' % key(1, 20).hex()], False),
    (0xc5d6e7f8, B, A, dict(crypt_algo='AES-GCM', crypt_key=key(2, 20)), ['aead rfc4106(gcm(aes)) 0x%s 128' % key(2, 20).hex()], False),
    (0x0000a002, A, B, dict(crypt_algo='AES-CBC', crypt_key=key(3, 16), auth_algo='SHA2-256-128', auth_key=key(4, 32)),
     ['auth-trunc hmac(sha256) 0x%s 128' % key(4, 32).hex(), 'enc cbc(aes) 0x%s' % key(3, 16).hex()], False),
    (0x0000b001, B, A, dict(crypt_algo='AES-GCM', crypt_key=key(5, 20)), ['aead rfc4106(gcm(aes)) 0x%s 128' % key(5, 20).hex()], True),
]

with open(os.path.join(OUT, 'xfrm-state.txt'), 'w') as f:
    for spi, src, dst, _, lines, natt in sas:
        f.write('src %s dst %s\n\tproto esp spi 0x%08x reqid 11 mode tunnel\n\treplay-window 32 flag af-unspec\n' % (src, dst, spi))
        for l in lines:
            f.write('\t%s\n' % l)
        if natt:
            f.write('\tencap type espinudp sport 4500 dport 4500 addr 0.0.0.0\n')
        f.write('\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n\tsel src 0.0.0.0/0 dst 0.0.0.0/0 \n')

base = []
seq = 0
for i in range(600):
    spi, src, dst, kw, _, natt = sas[[0, 1, 0, 1, 2, 3][i % 6]]
    sa = SecurityAssociation(ESP, spi=spi, tunnel_header=IP(src=src, dst=dst),
                             nat_t_header=UDP(sport=4500, dport=4500) if natt else None, **kw)
    size = [64, 512, 1400][i % 3]
    inner = IP(src='10.244.2.3', dst='10.244.1.5', id=i) / TCP(sport=40000, dport=80, seq=i * 1400) / Raw(bytes(size))
    seq += 1
    pkt = bytes(sa.encrypt(inner, seq_num=seq))
    if natt:  # scapy 2.5 leaves the NAT-T UDP length at 8; write the real one as the kernel does
        b = bytearray(pkt)
        b[24:26] = struct.pack('!H', len(b) - 20)
        pkt = bytes(b)
    base.append(bytes(Ether(src='02:42:ac:12:00:03', dst='02:42:ac:12:00:04', type=0x0800)) + pkt)

with open(os.path.join(OUT, 'bench.pcap'), 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    for i in range(N):
        frame = base[i % len(base)]
        f.write(struct.pack('<IIII', 1763777000 + i // 1000, (i % 1000) * 1000, len(frame), len(frame)))
        f.write(frame)
print('%d packets -> %s' % (N, OUT))
