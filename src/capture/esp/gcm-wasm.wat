;; The byte loops of batched AES-GCM (gcm-batch.ts), which JavaScript runs at about a quarter of the
;; speed: the counter blocks fed to AES-ECB, and the XOR of the ciphertext with the keystream.
;; Assembled into gcm-wasm.ts by scripts/gcm-wasm.mjs (test/capture/gcm-wasm.test.ts checks that
;; the embedded bytes are this file's). Memory is little-endian whatever the host is.
(module
  (memory (export "memory") 1)

  ;; n blocks from dst: salt || iv0 || iv1 || k as a big-endian u32, k = 1 .. n (SP 800-38D's
  ;; J0 = salt || IV || 1 and the counters after it). salt, iv0 and iv1 are those bytes read as
  ;; little-endian words, so each store writes them back as they were.
  (func (export "counters") (param $dst i32) (param $salt i32) (param $iv0 i32) (param $iv1 i32) (param $n i32)
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
