;; bam's wasm kernels that run on tfjs's own wasm heap (ops/simd/index.ts loads them).
;;
;; The module has no memory of its own: it imports the heap of tfjs-backend-wasm, so its arguments
;; are byte offsets of tensors in that heap, and it keeps nothing in memory (no stack, no data).
;; Each kernel does the same float64 arithmetic, in the same order, as the JavaScript loop it
;; replaces (ops/kernels.ts), two elements at a time in f64x2 lanes: float32 in, float64 inside,
;; one rounding to float32 per stored value. So its results are bit-identical to that loop's
;; (tested), and faster because the loop was bound by scalar float64 division and square roots
;; and by bounds checks. tools/build-wasm-kernels.ts assembles this file (wabt) into
;; kernels-wasm.ts; the `;; MEMORY` line is the import, unshared, or shared for tfjs's threaded build.
(module
  (import "env" "memory" (memory 0)) ;; MEMORY

  ;; One AdamW step (ops/adamw.ts has the formula) over n floats at p, m, v, g → op, om, ov:
  ;;   g' = g·s;  m' = b1·m + c1·g';  v' = b2·v + (c2·g')·g';  p' = p·keep − (step·m') / (√v' / sq + eps)
  ;; with c1 = 1 − b1, c2 = 1 − b2 as the caller computes them.
  (func (export "adamw")
    (param $p i32) (param $m i32) (param $v i32) (param $g i32)
    (param $op i32) (param $om i32) (param $ov i32) (param $n i32)
    (param $s f64) (param $b1 f64) (param $c1 f64) (param $b2 f64) (param $c2 f64)
    (param $keep f64) (param $step f64) (param $sq f64) (param $eps f64)
    (local $off i32) (local $end i32)
    (local $gg v128) (local $mm v128) (local $vv v128)
    (local $gs f64) (local $ms f64) (local $vs f64)
    ;; $end: the byte offset where the pairs end (n rounded down to even, × 4)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 2)))
    (block $done
      (loop $pairs
        (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
        (local.set $gg (f64x2.mul
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $g) (local.get $off))))
          (f64x2.splat (local.get $s))))
        (local.set $mm (f64x2.add
          (f64x2.mul (f64x2.splat (local.get $b1)) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $m) (local.get $off)))))
          (f64x2.mul (f64x2.splat (local.get $c1)) (local.get $gg))))
        (local.set $vv (f64x2.add
          (f64x2.mul (f64x2.splat (local.get $b2)) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $v) (local.get $off)))))
          (f64x2.mul (f64x2.mul (f64x2.splat (local.get $c2)) (local.get $gg)) (local.get $gg))))
        (v128.store64_lane 0 (i32.add (local.get $om) (local.get $off)) (f32x4.demote_f64x2_zero (local.get $mm)))
        (v128.store64_lane 0 (i32.add (local.get $ov) (local.get $off)) (f32x4.demote_f64x2_zero (local.get $vv)))
        (v128.store64_lane 0 (i32.add (local.get $op) (local.get $off)) (f32x4.demote_f64x2_zero
          (f64x2.sub
            (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (local.get $off)))) (f64x2.splat (local.get $keep)))
            (f64x2.div
              (f64x2.mul (f64x2.splat (local.get $step)) (local.get $mm))
              (f64x2.add (f64x2.div (f64x2.sqrt (local.get $vv)) (f64x2.splat (local.get $sq))) (f64x2.splat (local.get $eps)))))))
        (local.set $off (i32.add (local.get $off) (i32.const 8)))
        (br $pairs)))
    ;; an odd last element, the same arithmetic on scalars
    (if (i32.and (local.get $n) (i32.const 1))
      (then
        (local.set $gs (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $g) (local.get $off)))) (local.get $s)))
        (local.set $ms (f64.add
          (f64.mul (local.get $b1) (f64.promote_f32 (f32.load (i32.add (local.get $m) (local.get $off)))))
          (f64.mul (local.get $c1) (local.get $gs))))
        (local.set $vs (f64.add
          (f64.mul (local.get $b2) (f64.promote_f32 (f32.load (i32.add (local.get $v) (local.get $off)))))
          (f64.mul (f64.mul (local.get $c2) (local.get $gs)) (local.get $gs))))
        (f32.store (i32.add (local.get $om) (local.get $off)) (f32.demote_f64 (local.get $ms)))
        (f32.store (i32.add (local.get $ov) (local.get $off)) (f32.demote_f64 (local.get $vs)))
        (f32.store (i32.add (local.get $op) (local.get $off)) (f32.demote_f64
          (f64.sub
            (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $p) (local.get $off)))) (local.get $keep))
            (f64.div
              (f64.mul (local.get $step) (local.get $ms))
              (f64.add (f64.div (f64.sqrt (local.get $vs)) (local.get $sq)) (local.get $eps)))))))))

  ;; RoPE (ops/rope.ts) of x [BT = B·T rows, H heads, Dh] by the tables cos/sin [T, half] → out:
  ;; per head, y1 = x1·c − x2·s and y2 = x2·c + x1·s with s = sign·sin (sign −1: the transpose),
  ;; for the pairs (x[i], x[i + half]), i < half; dimensions 2·half .. Dh − 1 are copied.
  (func (export "rope")
    (param $x i32) (param $cos i32) (param $sin i32) (param $out i32)
    (param $BT i32) (param $T i32) (param $H i32) (param $Dh i32) (param $half i32) (param $sign f64)
    (local $bt i32) (local $h i32) (local $i i32) (local $pairs i32)
    (local $row i32) (local $head i32) (local $tab i32) (local $a i32) (local $b i32) (local $t i32)
    (local $c v128) (local $sn v128) (local $x1 v128) (local $x2 v128)
    (local $cs f64) (local $ss f64) (local $x1s f64) (local $x2s f64)
    ;; byte strides: a head is Dh floats, a row H heads, half floats apart for the pair's partner
    (local.set $pairs (i32.and (local.get $half) (i32.const -2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $bt) (local.get $BT)))
        (local.set $tab (i32.shl (i32.mul (i32.rem_u (local.get $bt) (local.get $T)) (local.get $half)) (i32.const 2)))
        (local.set $h (i32.const 0))
        (block $heads_done
          (loop $heads
            (br_if $heads_done (i32.ge_u (local.get $h) (local.get $H)))
            (local.set $head (i32.shl (i32.mul (i32.add (i32.mul (local.get $bt) (local.get $H)) (local.get $h)) (local.get $Dh)) (i32.const 2)))
            (local.set $i (i32.const 0))
            (block $pairs_done
              (loop $pair
                (br_if $pairs_done (i32.ge_u (local.get $i) (local.get $pairs)))
                (local.set $t (i32.add (local.get $tab) (i32.shl (local.get $i) (i32.const 2))))
                (local.set $a (i32.add (local.get $head) (i32.shl (local.get $i) (i32.const 2))))
                (local.set $b (i32.add (local.get $a) (i32.shl (local.get $half) (i32.const 2))))
                (local.set $c (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $cos) (local.get $t)))))
                (local.set $sn (f64x2.mul (f64x2.splat (local.get $sign)) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $sin) (local.get $t))))))
                (local.set $x1 (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $x) (local.get $a)))))
                (local.set $x2 (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $x) (local.get $b)))))
                (v128.store64_lane 0 (i32.add (local.get $out) (local.get $a)) (f32x4.demote_f64x2_zero
                  (f64x2.sub (f64x2.mul (local.get $x1) (local.get $c)) (f64x2.mul (local.get $x2) (local.get $sn)))))
                (v128.store64_lane 0 (i32.add (local.get $out) (local.get $b)) (f32x4.demote_f64x2_zero
                  (f64x2.add (f64x2.mul (local.get $x2) (local.get $c)) (f64x2.mul (local.get $x1) (local.get $sn)))))
                (local.set $i (i32.add (local.get $i) (i32.const 2)))
                (br $pair)))
            ;; an odd half: its last pair on scalars
            (if (i32.lt_u (local.get $i) (local.get $half))
              (then
                (local.set $t (i32.add (local.get $tab) (i32.shl (local.get $i) (i32.const 2))))
                (local.set $a (i32.add (local.get $head) (i32.shl (local.get $i) (i32.const 2))))
                (local.set $b (i32.add (local.get $a) (i32.shl (local.get $half) (i32.const 2))))
                (local.set $cs (f64.promote_f32 (f32.load (i32.add (local.get $cos) (local.get $t)))))
                (local.set $ss (f64.mul (local.get $sign) (f64.promote_f32 (f32.load (i32.add (local.get $sin) (local.get $t))))))
                (local.set $x1s (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $a)))))
                (local.set $x2s (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $b)))))
                (f32.store (i32.add (local.get $out) (local.get $a))
                  (f32.demote_f64 (f64.sub (f64.mul (local.get $x1s) (local.get $cs)) (f64.mul (local.get $x2s) (local.get $ss)))))
                (f32.store (i32.add (local.get $out) (local.get $b))
                  (f32.demote_f64 (f64.add (f64.mul (local.get $x2s) (local.get $cs)) (f64.mul (local.get $x1s) (local.get $ss)))))))
            ;; partial rotary: the dimensions past the rotated ones are copied
            (if (i32.lt_u (i32.shl (local.get $half) (i32.const 1)) (local.get $Dh))
              (then
                (local.set $a (i32.add (local.get $head) (i32.shl (local.get $half) (i32.const 3))))
                (memory.copy
                  (i32.add (local.get $out) (local.get $a))
                  (i32.add (local.get $x) (local.get $a))
                  (i32.shl (i32.sub (local.get $Dh) (i32.shl (local.get $half) (i32.const 1))) (i32.const 2)))))
            (local.set $h (i32.add (local.get $h) (i32.const 1)))
            (br $heads)))
        (local.set $bt (i32.add (local.get $bt) (i32.const 1)))
        (br $rows))))
)
