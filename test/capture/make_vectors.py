#!/usr/bin/python3
"""Independent ESP test vectors for `kubectl flannel capture --decrypt-esp`.

Scapy (Debian python3-scapy, scapy.layers.ipsec, crypto by python3-cryptography) encrypts the
packets; nothing here uses kubectl-flannel code. Writes into OUTDIR:

  xfrm-state.txt        the SAs as `ip xfrm state` prints them: two nodes concatenated, node A in the
                        iproute2 6.x multi-line layout, node B in the collapsed one-line form of
                        shared/seeds/000 (with SAs repeated across nodes, as when both ends are dumped)
  <variant>.pcap/.pcapng  the capture, in several containers and link types
  <variant>.expected.pcap what decryption must produce: same packets, same order, same timestamps;
                        tunnel-mode ESP replaced by the plaintext inner packet scapy encrypted,
                        transport-mode ESP by scapy's own SecurityAssociation.decrypt() result,
                        everything else (and every packet that must not decrypt) unchanged
  manifest.json         per packet: what it is and which SA label it must be counted under

Usage: make_vectors.py OUTDIR [--count N]   (N: repeat the packet mix N times, for benchmarks)
"""
import json
import os
import struct
import sys

from decimal import Decimal

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, IPv6, Raw, ICMPv6ND_NS, RawPcapNgWriter
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.utils import checksum

OUT = sys.argv[1]
COUNT = int(sys.argv[sys.argv.index('--count') + 1]) if '--count' in sys.argv else 1
os.makedirs(OUT, exist_ok=True)

NODE_A, NODE_B = '172.18.0.3', '172.18.0.4'
NODE_A6, NODE_B6 = 'fd00:56::11', 'fd00:56::12'
MAC_A, MAC_B = '02:42:ac:12:00:03', '02:42:ac:12:00:04'


def key(seed, n):
    return bytes((seed * 31 + i * 7) & 0xFF for i in range(n))


# name, spi, src, dst, scapy args, xfrm text (algorithm lines), mode, natt, ICV bits for the label
SAS = []


def add_sa(name, spi, src, dst, crypt, ckey, auth=None, akey=None, icv=None, mode='tunnel', natt=False):
    if crypt == 'AES-GCM':
        xfrm = ['aead rfc4106(gcm(aes)) 0x%s %d' % (ckey.hex(), (icv or 16) * 8)]
    else:
        xfrm = []
        if auth:
            alg, bits = {'HMAC-SHA1-96': ('hmac(sha1)', 96), 'SHA2-256-128': ('hmac(sha256)', 128),
                         'SHA2-384-192': ('hmac(sha384)', 192), 'SHA2-512-256': ('hmac(sha512)', 256)}[auth]
            xfrm.append('auth-trunc %s 0x%s %d' % (alg, akey.hex(), bits))
        xfrm.append('enc %s 0x%s' % ({'AES-CBC': 'cbc(aes)', 'AES-CTR': 'rfc3686(ctr(aes))'}[crypt], ckey.hex()))
    six = ':' in src
    tunnel = None
    if mode == 'tunnel':
        tunnel = IPv6(src=src, dst=dst) if six else IP(src=src, dst=dst)
    sa = SecurityAssociation(ESP, spi=spi, crypt_algo=crypt, crypt_key=ckey, auth_algo=auth, auth_key=akey,
                             tunnel_header=tunnel,
                             nat_t_header=UDP(sport=4500, dport=4500) if natt else None)
    entry = dict(name=name, spi=spi, src=src, dst=dst, xfrm=xfrm, mode=mode, natt=natt, sa=sa, icv=icv)
    SAS.append(entry)
    return entry


gcm128 = add_sa('gcm128', 0xcfc2f79d, NODE_A, NODE_B, 'AES-GCM', key(1, 20))            # flannel default
gcm128r = add_sa('gcm128-reverse', 0xc91a08f3, NODE_B, NODE_A, 'AES-GCM', key(2, 20))
gcm192 = add_sa('gcm192-icv12', 0x00000c12, NODE_A, NODE_B, 'AES-GCM', key(3, 28), icv=12)
gcm256 = add_sa('gcm256-icv8', 0x00000c08, NODE_A, NODE_B, 'AES-GCM', key(4, 36), icv=8)
cbc_sha1 = add_sa('cbc128-sha1', 0x0000a001, NODE_A, NODE_B, 'AES-CBC', key(5, 16), 'HMAC-SHA1-96', key(6, 20))
cbc_sha256 = add_sa('cbc256-sha256', 0x0000a002, NODE_B, NODE_A, 'AES-CBC', key(7, 32), 'SHA2-256-128', key(8, 32))
cbc_sha384 = add_sa('cbc192-sha384', 0x0000a003, NODE_A, NODE_B, 'AES-CBC', key(9, 24), 'SHA2-384-192', key(10, 48))
cbc_sha512 = add_sa('cbc256-sha512', 0x0000a004, NODE_A, NODE_B, 'AES-CBC', key(11, 32), 'SHA2-512-256', key(12, 64))
natt = add_sa('gcm128-natt', 0x0000b001, NODE_A, NODE_B, 'AES-GCM', key(13, 20), natt=True)
natt_cbc = add_sa('cbc128-sha256-natt', 0x0000b002, NODE_B, NODE_A, 'AES-CBC', key(14, 16), 'SHA2-256-128', key(15, 32), natt=True)
v6 = add_sa('gcm128-ipv6', 0x0000d001, NODE_A6, NODE_B6, 'AES-GCM', key(16, 20))
v6cbc = add_sa('cbc128-sha256-ipv6', 0x0000d002, NODE_B6, NODE_A6, 'AES-CBC', key(17, 16), 'SHA2-256-128', key(18, 32))
tr4 = add_sa('transport-cbc-sha256', 0x0000e001, NODE_A, NODE_B, 'AES-CBC', key(19, 16), 'SHA2-256-128', key(20, 32), mode='transport')
tr6 = add_sa('transport-gcm-ipv6', 0x0000e002, NODE_A6, NODE_B6, 'AES-GCM', key(21, 20), mode='transport')
tr_natt = add_sa('transport-gcm-natt', 0x0000e003, NODE_A, NODE_B, 'AES-GCM', key(22, 20), mode='transport', natt=True)
ctr = add_sa('ctr128-sha1', 0x0000f001, NODE_A, NODE_B, 'AES-CTR', key(23, 20), 'HMAC-SHA1-96', key(24, 20))
# Not in xfrm-state.txt: traffic of an SA the user did not give.
stranger = SecurityAssociation(ESP, spi=0x5eca1e75, crypt_algo='AES-GCM', crypt_key=key(99, 20),
                               tunnel_header=IP(src=NODE_A, dst=NODE_B))


def state_multiline(e):
    lines = ['src %s dst %s' % (e['src'], e['dst']),
             '\tproto esp spi 0x%08x reqid 11 mode %s' % (e['spi'], e['mode']),
             '\treplay-window 0 flag af-unspec']
    lines += ['\t' + x for x in e['xfrm']]
    if e['natt']:
        lines.append('\tencap type espinudp sport 4500 dport 4500 addr 0.0.0.0')
    lines.append('\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000')
    lines.append('\tsel src 0.0.0.0/0 dst 0.0.0.0/0 ')
    return '\n'.join(lines)


def state_collapsed(e):
    # As scraped in shared/seeds/000: newlines and tabs gone, words glued together.
    s = 'src %s dst %sproto esp spi 0x%08x reqid 11 mode %sreplay-window 32 flag af-unspec' % (
        e['src'], e['dst'], e['spi'], e['mode'])
    s += ''.join(e['xfrm'])
    if e['natt']:
        s += 'encap type espinudp sport 4500 dport 4500 addr 0.0.0.0'
    return s + 'anti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000'


half = len(SAS) // 2
node_a = SAS[:half + 2]       # overlaps node B by two SAs, like dumping both ends of a tunnel
node_b = SAS[half:]
with open(os.path.join(OUT, 'xfrm-state.txt'), 'w') as f:
    f.write('\n'.join(state_multiline(e) for e in node_a) + '\n')
    f.write('\n'.join(state_collapsed(e) for e in node_b) + '\n')

# ------------------------------------------------------------------------------------------
# The packet mix. Each item: (l3 packet bytes as captured, expected l3 bytes, kind, sa name)

seq_counter = [0]


def iv_for(sa):
    seq_counter[0] += 1
    n = sa.crypt_algo.iv_size
    return bytes(((seq_counter[0] * 13 + i) & 0xFF) for i in range(n))


def inner4(i, proto='icmp'):
    ip = IP(src='10.244.2.3', dst='10.244.1.5', id=1000 + i, ttl=63)
    if proto == 'tcp':
        return ip / TCP(sport=40000 + i, dport=80, seq=1000 * i, flags='PA') / Raw(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    return ip / ICMP(id=59, seq=i) / Raw(bytes(range(i % 7, i % 7 + 40)))


def inner6(i):
    return IPv6(src='fd00:10:244:2::3', dst='fd00:10:244:1::5', hlim=63) / TCP(sport=41000 + i, dport=443, seq=7 * i) / Raw(b'v6 payload %d' % i)


def fix_natt_udp_length(raw):
    # scapy 2.5 leaves the NAT-T UDP length at 8 (header only); the kernel writes the real length.
    # The UDP header is outside the ESP ICV, so fixing it changes nothing that is authenticated.
    b = bytearray(raw)
    ihl = (b[0] & 0x0F) * 4
    total = struct.unpack('!H', b[2:4])[0]
    b[ihl + 4:ihl + 6] = struct.pack('!H', total - ihl)
    return bytes(b)


def truncate_gcm_tag(raw, icv):
    # scapy 2.5 always appends the full 16-byte GCM tag (its crypt_icv_size is ignored with the
    # AESGCM API). RFC 4106's 8- and 12-byte ICVs are that tag's leading bytes (NIST SP 800-38D
    # MSB truncation), so cut the tail and fix the IPv4 total length and header checksum.
    b = bytearray(raw[:len(raw) - (16 - icv)])
    ihl = (b[0] & 0x0F) * 4
    b[2:4] = struct.pack('!H', len(b))
    b[10:12] = b'\0\0'
    b[10:12] = struct.pack('!H', checksum(bytes(b[:ihl])))
    return bytes(b)


class _Truncated:
    def __init__(self, raw):
        self.raw = raw

    def __bytes__(self):
        return self.raw


def enc(e, pkt):
    c = e['sa'].encrypt(pkt, iv=iv_for(e['sa']))
    if e['icv']:
        return _Truncated(truncate_gcm_tag(bytes(c), e['icv']))
    return c if not e['natt'] else _Natt(c)


class _Natt:
    # Keeps scapy's packet (for SecurityAssociation.decrypt) but serialises with the fixed length.
    def __init__(self, pkt):
        self.pkt = pkt

    def __bytes__(self):
        return fix_natt_udp_length(bytes(self.pkt))


def items(round_no):
    out = []
    b = round_no * 100
    # ESP that must decrypt, tunnel mode
    for n, e in enumerate([gcm128, gcm128r, gcm192, gcm256, cbc_sha1, cbc_sha256, cbc_sha384, cbc_sha512, natt, natt_cbc, ctr]):
        p = inner4(b + n, 'tcp' if n % 2 else 'icmp')
        out.append((bytes(enc(e, p)), bytes(p), 'esp-ok', e['name']))
    for n, e in enumerate([v6, v6cbc]):
        p = inner6(b + n) if n == 0 else inner4(b + n)
        out.append((bytes(enc(e, p)), bytes(p), 'esp-ok', e['name']))
    # transport mode: expected = scapy's own decryption of the packet
    for e, p in [(tr4, IP(src=NODE_A, dst=NODE_B, id=7) / TCP(sport=5000, dport=6000) / Raw(b'transport v4')),
                 (tr6, IPv6(src=NODE_A6, dst=NODE_B6) / TCP(sport=5001, dport=6001) / Raw(b'transport v6')),
                 (tr_natt, IP(src=NODE_A, dst=NODE_B, id=8) / TCP(sport=5002, dport=6002) / Raw(b'transport natt'))]:
        c = enc(e, p)
        wire = bytes(c)  # before decrypt(), which rewrites scapy's packet in place
        plain = e['sa'].decrypt(c.pkt if isinstance(c, _Natt) else c)
        out.append((wire, bytes(plain), 'esp-ok', e['name']))
    # things that are not ESP
    out.append((bytes(IP(src=NODE_A, dst=NODE_B) / UDP(sport=4500, dport=4500) / Raw(b'\x00\x00\x00\x00IKE message')), None, 'plain', None))
    out.append((bytes(IP(src=NODE_A, dst=NODE_B) / UDP(sport=4500, dport=4500) / Raw(b'\xff')), None, 'plain', None))
    out.append((bytes(IP(src=NODE_A, dst=NODE_B) / UDP(sport=53, dport=53) / Raw(b'dns?')), None, 'plain', None))
    out.append((bytes(inner4(b + 50)), None, 'plain', None))
    out.append((None, None, 'arp', None))
    out.append((bytes(IPv6(src='fe80::1', dst='ff02::1:ff00:2') / ICMPv6ND_NS(tgt='fe80::2')), None, 'plain', None))
    # ESP that must not decrypt
    c = bytearray(bytes(enc(gcm128, inner4(b + 60))))
    c[40] ^= 0x01  # a ciphertext byte
    out.append((bytes(c), None, 'tampered', 'gcm128'))
    c = bytearray(bytes(enc(cbc_sha256, inner4(b + 61))))
    c[-1] ^= 0x80  # the ICV
    out.append((bytes(c), None, 'tampered', 'cbc256-sha256'))
    c = bytearray(bytes(enc(natt, inner4(b + 62))))
    c[-20] ^= 0x10
    out.append((bytes(c), None, 'tampered', 'gcm128-natt'))
    out.append((bytes(stranger.encrypt(inner4(b + 63), iv=b'\x01' * 8)), None, 'unknown-spi', None))
    out.append((bytes(enc(gcm128, inner4(b + 64))), None, 'truncated', 'gcm128'))  # cut below by snaplen
    return out


ITEMS = [it for r in range(COUNT) for it in items(r)]

# ------------------------------------------------------------------------------------------
# Link layers and containers


def l2_ether(l3):
    ethertype = 0x86DD if (l3[0] >> 4) == 6 else 0x0800
    return bytes(Ether(src=MAC_A, dst=MAC_B, type=ethertype)) + l3


def l2_vlan(l3, ethertype=None):
    ethertype = ethertype or (0x86DD if (l3[0] >> 4) == 6 else 0x0800)
    return bytes(Ether(src=MAC_A, dst=MAC_B, type=0x8100)) + struct.pack('!HH', 100, ethertype) + l3


def l2_sll(l3, ethertype=None):
    ethertype = ethertype or (0x86DD if (l3[0] >> 4) == 6 else 0x0800)
    return struct.pack('!HHH8sH', 0, 1, 6, bytes.fromhex(MAC_A.replace(':', '')) + b'\0\0', ethertype) + l3


def l2_sll2(l3, ethertype=None):
    ethertype = ethertype or (0x86DD if (l3[0] >> 4) == 6 else 0x0800)
    return struct.pack('!HHIHBB8s', ethertype, 0, 7, 1, 0, 6, bytes.fromhex(MAC_A.replace(':', '')) + b'\0\0') + l3


def l2_raw(l3):
    return l3


LINKS = {'ether': (1, l2_ether), 'vlan': (1, l2_vlan), 'sll': (113, l2_sll), 'sll2': (276, l2_sll2), 'raw': (101, l2_raw)}

BASE_SEC = 1763777000


def timestamp(i):
    return BASE_SEC + i, (123456789 + i * 1000003) % 1000000000  # ns


def write_pcap(path, linktype, records, endian='<', nano=False):
    with open(path, 'wb') as f:
        f.write(struct.pack(endian + 'IHHiIII', 0xA1B23C4D if nano else 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for sec, nsec, data, wirelen in records:
            frac = nsec if nano else nsec // 1000
            f.write(struct.pack(endian + 'IIII', sec, frac, len(data), wirelen))
            f.write(data)


SNAP_CUT = 60


def build(link):
    lt, frame = LINKS[link]
    captured, expected, manifest = [], [], []
    for i, (l3, exp_l3, kind, sa) in enumerate(ITEMS):
        sec, nsec = timestamp(i)
        if kind == 'arp':
            arp = bytes(ARP(psrc=NODE_A, pdst=NODE_B, hwsrc=MAC_A))
            if link == 'raw':
                continue  # raw IP cannot carry ARP
            full = {'ether': lambda: bytes(Ether(src=MAC_A, dst='ff:ff:ff:ff:ff:ff', type=0x0806)) + arp,
                    'vlan': lambda: l2_vlan(arp, 0x0806),
                    'sll': lambda: l2_sll(arp, 0x0806),
                    'sll2': lambda: l2_sll2(arp, 0x0806)}[link]()
        else:
            full = frame(l3)
        if kind == 'truncated':
            cap = full[:SNAP_CUT]
            captured.append((sec, nsec, cap, len(full)))
            expected.append((sec, nsec, cap, len(full)))
        else:
            captured.append((sec, nsec, full, len(full)))
            out = frame(exp_l3) if exp_l3 is not None else full
            expected.append((sec, nsec, out, len(out)))
        manifest.append({'kind': kind, 'sa': sa})
    return lt, captured, expected, manifest


lt, cap, exp, manifest = build('ether')
write_pcap(os.path.join(OUT, 'ether.pcap'), lt, cap)
write_pcap(os.path.join(OUT, 'ether.expected.pcap'), lt, exp)
write_pcap(os.path.join(OUT, 'ether-be.pcap'), lt, cap, endian='>')
write_pcap(os.path.join(OUT, 'ether-ns.pcap'), lt, cap, nano=True)
write_pcap(os.path.join(OUT, 'ether-ns.expected.pcap'), lt, exp, nano=True)
for link in ('vlan', 'sll', 'sll2', 'raw'):
    lt2, cap2, exp2, _ = build(link)
    write_pcap(os.path.join(OUT, link + '.pcap'), lt2, cap2)
    write_pcap(os.path.join(OUT, link + '.expected.pcap'), lt2, exp2)
# pcapng through scapy's own writer (µs resolution, one interface)
w = RawPcapNgWriter(os.path.join(OUT, 'ether.pcapng'))
w.linktype = lt
w.write_header(None)
for sec, nsec, data, wirelen in cap:
    w._write_packet(data, sec=Decimal(sec) + Decimal(nsec // 1000) / Decimal(10 ** 6), caplen=len(data), wirelen=wirelen)
w.close()

with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
    json.dump({'packets': manifest, 'sas': [{'name': e['name'], 'spi': e['spi'], 'src': e['src'], 'dst': e['dst']} for e in SAS]}, f)
print('%d packets, %d SAs -> %s' % (len(ITEMS), len(SAS), OUT))
