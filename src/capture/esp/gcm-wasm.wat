;; The byte loops of batched AES-GCM (gcm-batch.ts), which JavaScript runs at about a quarter of the
;; speed: a packet's blocks laid out for GHASH, the counter blocks fed to AES-ECB, and the XOR of the
;; ciphertext with the keystream.
;; Assembled into gcm-wasm.ts by scripts/gcm-wasm.mjs (test/capture/gcm-wasm.test.ts checks that
;; the embedded bytes are this file's). Memory is little-endian whatever the host is.
(module
  (memory (export "memory") 1)

  ;; n blocks from dst: salt || iv0 || iv1 || k as a big-endian u32, k = 1 .. n (SP 800-38D's
  ;; J0 = salt || IV || 1 and the counters after it). salt, iv0 and iv1 are those bytes read as
  ;; little-endian words, so each store writes them back as they were.
  (func $counters (export "counters") (param $dst i32) (param $salt i32) (param $iv0 i32) (param $iv1 i32) (param $n i32)
    (local $k i32)
    (local.set $k (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.gt_u (local.get $k) (local.get $n)))
        (i32.store (local.get $dst) (local.get $salt))
        (i32.store offset=4 (local.get $dst) (local.get $iv0))
        (i32.store offset=8 (local.get $dst) (local.get $iv1))
        ;; the byte swap of k: its big-endian bytes through a little-endian store
        (i32.store offset=12 (local.get $dst)
          (i32.or
            (i32.or
              (i32.shl (local.get $k) (i32.const 24))
              (i32.shl (i32.and (local.get $k) (i32.const 0xff00)) (i32.const 8)))
            (i32.or
              (i32.and (i32.shr_u (local.get $k) (i32.const 8)) (i32.const 0xff00))
              (i32.shr_u (local.get $k) (i32.const 24)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next))))

  ;; One packet's GHASH input, from its ESP bytes copied whole to $at (header 8, IV 8, ciphertext
  ;; $ct bytes, ICV 16): [header | 0^64 | ciphertext | zeros to a block | lengths | ICV], and its
  ;; counter blocks at $at + $size (J0 first). The IV words are passed in, read before they are
  ;; overwritten. The ICV moves first: the zero padding covers where it was.
  (func (export "lay") (param $at i32) (param $size i32) (param $ct i32) (param $salt i32) (param $iv0 i32) (param $iv1 i32)
    (local $len i32) (local $p i32)
    ;; $len: where the length block goes, the ciphertext rounded up to whole blocks
    (local.set $len (i32.add (i32.add (local.get $at) (i32.const 16))
      (i32.and (i32.add (local.get $ct) (i32.const 15)) (i32.const -16))))
    (v128.store offset=16 (local.get $len)
      (v128.load offset=16 (i32.add (local.get $at) (local.get $ct))))
    (i64.store offset=8 (local.get $at) (i64.const 0))
    (local.set $p (i32.add (i32.add (local.get $at) (i32.const 16)) (local.get $ct)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $len)))
        (i32.store8 (local.get $p) (i32.const 0))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    ;; lengths in bits, big-endian u64 each: AAD 64 bits, then the ciphertext's
    (i64.store (local.get $len) (i64.const 0x4000000000000000))
    (i32.store offset=8 (local.get $len) (i32.const 0))
    (i32.store offset=12 (local.get $len) (call $bswap (i32.shl (local.get $ct) (i32.const 3))))
    (call $counters (i32.add (local.get $at) (local.get $size)) (local.get $salt) (local.get $iv0) (local.get $iv1)
      (i32.add (i32.const 3) (i32.shr_u (i32.add (local.get $ct) (i32.const 15)) (i32.const 4)))))

  (func $bswap (param $k i32) (result i32)
    (i32.or
      (i32.or
        (i32.shl (local.get $k) (i32.const 24))
        (i32.shl (i32.and (local.get $k) (i32.const 0xff00)) (i32.const 8)))
      (i32.or
        (i32.and (i32.shr_u (local.get $k) (i32.const 8)) (i32.const 0xff00))
        (i32.shr_u (local.get $k) (i32.const 24)))))

  ;; dst[i] ^= src[i] for len bytes, 16 at a time (len is a multiple of 16).
  (func (export "xor") (param $dst i32) (param $src i32) (param $len i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store (local.get $dst) (v128.xor (v128.load (local.get $dst)) (v128.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $next)))))
