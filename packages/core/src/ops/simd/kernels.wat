;; bam's wasm kernels that run on tfjs's own wasm heap (ops/simd/index.ts loads them).
;;
;; The module has no memory of its own: it imports the heap of tfjs-backend-wasm, so its arguments
;; are byte offsets of tensors in that heap, and it keeps nothing in memory (no stack, no data).
;; AdamW and RoPE do the same float64 arithmetic, in the same order, as the JavaScript loops they
;; replace (ops/kernels.ts), two elements at a time in f64x2 lanes: float32 in, float64 inside,
;; one rounding to float32 per stored value. So their results are bit-identical to those loops'
;; (tested), and faster because the loops were bound by scalar float64 division and square roots
;; and by bounds checks. The float32 chains further down are bit-identical to the tfjs ops they
;; replace in the same way. tools/build-wasm-kernels.ts assembles this file (wabt) into
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

  ;; ---- f32 element-wise chains: each is the same sequence of float32 multiplies, adds and
  ;; subtractions as the tfjs ops it replaces (ops/swiglu.ts, ops/rms-norm.ts), lane by lane, so the
  ;; bits are those ops' bits; one pass instead of one pass per op. n counts floats; offsets in bytes.

  ;; SwiGLU forward after σ: gs = g·s, out = gs·u.
  (func (export "swiglu_fwd")
    (param $g i32) (param $s i32) (param $u i32) (param $gs i32) (param $out i32) (param $n i32)
    (local $off i32) (local $end i32) (local $v v128) (local $f f32)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $done (loop $quads
      (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
      (local.set $v (f32x4.mul (v128.load (i32.add (local.get $g) (local.get $off))) (v128.load (i32.add (local.get $s) (local.get $off)))))
      (v128.store (i32.add (local.get $gs) (local.get $off)) (local.get $v))
      (v128.store (i32.add (local.get $out) (local.get $off)) (f32x4.mul (local.get $v) (v128.load (i32.add (local.get $u) (local.get $off)))))
      (local.set $off (i32.add (local.get $off) (i32.const 16)))
      (br $quads)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $tail_done (loop $tail
      (br_if $tail_done (i32.ge_u (local.get $off) (local.get $end)))
      (local.set $f (f32.mul (f32.load (i32.add (local.get $g) (local.get $off))) (f32.load (i32.add (local.get $s) (local.get $off)))))
      (f32.store (i32.add (local.get $gs) (local.get $off)) (local.get $f))
      (f32.store (i32.add (local.get $out) (local.get $off)) (f32.mul (local.get $f) (f32.load (i32.add (local.get $u) (local.get $off)))))
      (local.set $off (i32.add (local.get $off) (i32.const 4)))
      (br $tail))))

  ;; SwiGLU backward: dg = (dy·u)·(s + (gs − gs·s)), du = dy·gs.
  (func (export "swiglu_bwd")
    (param $dy i32) (param $s i32) (param $gs i32) (param $u i32) (param $dg i32) (param $du i32) (param $n i32)
    (local $off i32) (local $end i32) (local $d v128) (local $sv v128) (local $gv v128)
    (local $df f32) (local $sf f32) (local $gf f32)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $done (loop $quads
      (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
      (local.set $d (v128.load (i32.add (local.get $dy) (local.get $off))))
      (local.set $sv (v128.load (i32.add (local.get $s) (local.get $off))))
      (local.set $gv (v128.load (i32.add (local.get $gs) (local.get $off))))
      (v128.store (i32.add (local.get $dg) (local.get $off))
        (f32x4.mul
          (f32x4.mul (local.get $d) (v128.load (i32.add (local.get $u) (local.get $off))))
          (f32x4.add (local.get $sv) (f32x4.sub (local.get $gv) (f32x4.mul (local.get $gv) (local.get $sv))))))
      (v128.store (i32.add (local.get $du) (local.get $off)) (f32x4.mul (local.get $d) (local.get $gv)))
      (local.set $off (i32.add (local.get $off) (i32.const 16)))
      (br $quads)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $tail_done (loop $tail
      (br_if $tail_done (i32.ge_u (local.get $off) (local.get $end)))
      (local.set $df (f32.load (i32.add (local.get $dy) (local.get $off))))
      (local.set $sf (f32.load (i32.add (local.get $s) (local.get $off))))
      (local.set $gf (f32.load (i32.add (local.get $gs) (local.get $off))))
      (f32.store (i32.add (local.get $dg) (local.get $off))
        (f32.mul
          (f32.mul (local.get $df) (f32.load (i32.add (local.get $u) (local.get $off))))
          (f32.add (local.get $sf) (f32.sub (local.get $gf) (f32.mul (local.get $gf) (local.get $sf))))))
      (f32.store (i32.add (local.get $du) (local.get $off)) (f32.mul (local.get $df) (local.get $gf)))
      (local.set $off (i32.add (local.get $off) (i32.const 4)))
      (br $tail))))

;; RMSNorm forward, per row of D: ss = Σ x·x (float32, left to right from 0, as tfjs's Square
  ;; and Mean), r = 1 / √(ss / D + eps) (tfjs's Add and Rsqrt: float32 division and square root),
  ;; xh = x·r, y = xh·w. Writes xh, r [rows] and y.
  (func (export "rmsnorm_fwd")
    (param $x i32) (param $w i32) (param $xh i32) (param $r i32) (param $y i32) (param $rows i32) (param $D i32) (param $eps f32)
    (local $row i32) (local $i i32) (local $base i32) (local $quads i32) (local $rv v128) (local $v v128)
    (local $rf f32) (local $f f32) (local $a i32) (local $ss f32) (local $Df f32)
    (local.set $quads (i32.and (local.get $D) (i32.const -4)))
    (local.set $Df (f32.convert_i32_u (local.get $D)))
    (block $rows_done (loop $rows_loop
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $base (i32.shl (i32.mul (local.get $row) (local.get $D)) (i32.const 2)))
      (local.set $ss (f32.const 0))
      (local.set $i (i32.const 0))
      (block $s_done (loop $s
        (br_if $s_done (i32.ge_u (local.get $i) (local.get $D)))
        (local.set $f (f32.load (i32.add (local.get $x) (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $ss (f32.add (local.get $ss) (f32.mul (local.get $f) (local.get $f))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $s)))
      (local.set $rf (f32.div (f32.const 1) (f32.sqrt (f32.add (f32.div (local.get $ss) (local.get $Df)) (local.get $eps)))))
      (f32.store (i32.add (local.get $r) (i32.shl (local.get $row) (i32.const 2))) (local.get $rf))
      (local.set $rv (f32x4.splat (local.get $rf)))
      (local.set $i (i32.const 0))
      (block $q_done (loop $q
        (br_if $q_done (i32.ge_u (local.get $i) (local.get $quads)))
        (local.set $a (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $v (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $a))) (local.get $rv)))
        (v128.store (i32.add (local.get $xh) (local.get $a)) (local.get $v))
        (v128.store (i32.add (local.get $y) (local.get $a)) (f32x4.mul (local.get $v) (v128.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $q)))
      (block $t_done (loop $t
        (br_if $t_done (i32.ge_u (local.get $i) (local.get $D)))
        (local.set $a (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $f (f32.mul (f32.load (i32.add (local.get $x) (local.get $a))) (local.get $rf)))
        (f32.store (i32.add (local.get $xh) (local.get $a)) (local.get $f))
        (f32.store (i32.add (local.get $y) (local.get $a)) (f32.mul (local.get $f) (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $t)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows_loop))))

  ;; RMSNorm backward, per row: g = dy·w, mean = Σ g·xh / D (left to right from 0, as tfjs's
  ;; Multiply and Mean), dx = r·(g − xh·mean), dyx = dy·xh (for ∂w's product). g is computed
  ;; again in the second pass rather than stored (the same operation, the same bits).
  (func (export "rmsnorm_bwd")
    (param $dy i32) (param $w i32) (param $xh i32) (param $r i32) (param $dx i32) (param $dyx i32) (param $rows i32) (param $D i32)
    (local $row i32) (local $i i32) (local $base i32) (local $quads i32) (local $a i32) (local $wa i32)
    (local $mv v128) (local $rv v128) (local $xv v128) (local $dv v128)
    (local $mf f32) (local $rf f32) (local $xf f32) (local $df f32) (local $sum f32) (local $Df f32)
    (local.set $quads (i32.and (local.get $D) (i32.const -4)))
    (local.set $Df (f32.convert_i32_u (local.get $D)))
    (block $rows_done (loop $rows_loop
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $base (i32.shl (i32.mul (local.get $row) (local.get $D)) (i32.const 2)))
      (local.set $sum (f32.const 0))
      (local.set $i (i32.const 0))
      (block $s_done (loop $s
        (br_if $s_done (i32.ge_u (local.get $i) (local.get $D)))
        (local.set $a (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $sum (f32.add (local.get $sum)
          (f32.mul
            (f32.mul (f32.load (i32.add (local.get $dy) (local.get $a))) (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
            (f32.load (i32.add (local.get $xh) (local.get $a))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $s)))
      (local.set $mf (f32.div (local.get $sum) (local.get $Df)))
      (local.set $rf (f32.load (i32.add (local.get $r) (i32.shl (local.get $row) (i32.const 2)))))
      (local.set $mv (f32x4.splat (local.get $mf)))
      (local.set $rv (f32x4.splat (local.get $rf)))
      (local.set $i (i32.const 0))
      (block $q_done (loop $q
        (br_if $q_done (i32.ge_u (local.get $i) (local.get $quads)))
        (local.set $a (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $wa (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $xv (v128.load (i32.add (local.get $xh) (local.get $a))))
        (local.set $dv (v128.load (i32.add (local.get $dy) (local.get $a))))
        (v128.store (i32.add (local.get $dx) (local.get $a))
          (f32x4.mul (local.get $rv) (f32x4.sub (f32x4.mul (local.get $dv) (v128.load (local.get $wa))) (f32x4.mul (local.get $xv) (local.get $mv)))))
        (v128.store (i32.add (local.get $dyx) (local.get $a)) (f32x4.mul (local.get $dv) (local.get $xv)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $q)))
      (block $t_done (loop $tl
        (br_if $t_done (i32.ge_u (local.get $i) (local.get $D)))
        (local.set $a (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $xf (f32.load (i32.add (local.get $xh) (local.get $a))))
        (local.set $df (f32.load (i32.add (local.get $dy) (local.get $a))))
        (f32.store (i32.add (local.get $dx) (local.get $a))
          (f32.mul (local.get $rf) (f32.sub (f32.mul (local.get $df) (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2))))) (f32.mul (local.get $xf) (local.get $mf)))))
        (f32.store (i32.add (local.get $dyx) (local.get $a)) (f32.mul (local.get $df) (local.get $xf)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tl)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows_loop))))

  ;; Softmax backward per row of S: sum = Σ_j dp[j]·p[j] (float32, left to right from 0, as tfjs's
  ;; Sum of the Multiply), then ds = p·(dp − sum).
  (func (export "softmax_bwd")
    (param $p i32) (param $dp i32) (param $ds i32) (param $rows i32) (param $S i32)
    (local $row i32) (local $i i32) (local $base i32) (local $quads i32) (local $a i32) (local $sum f32) (local $sv v128)
    (local.set $quads (i32.and (local.get $S) (i32.const -4)))
    (block $rows_done (loop $rows_loop
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $base (i32.shl (i32.mul (local.get $row) (local.get $S)) (i32.const 2)))
      (local.set $sum (f32.const 0))
      (local.set $i (i32.const 0))
      (block $s_done (loop $s
        (br_if $s_done (i32.ge_u (local.get $i) (local.get $S)))
        (local.set $a (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $sum (f32.add (local.get $sum)
          (f32.mul (f32.load (i32.add (local.get $dp) (local.get $a))) (f32.load (i32.add (local.get $p) (local.get $a))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $s)))
      (local.set $sv (f32x4.splat (local.get $sum)))
      (local.set $i (i32.const 0))
      (block $q_done (loop $q
        (br_if $q_done (i32.ge_u (local.get $i) (local.get $quads)))
        (local.set $a (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))
        (v128.store (i32.add (local.get $ds) (local.get $a))
          (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $a)))
            (f32x4.sub (v128.load (i32.add (local.get $dp) (local.get $a))) (local.get $sv))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $q)))
      (block $t_done (loop $tl
        (br_if $t_done (i32.ge_u (local.get $i) (local.get $S)))
        (local.set $a (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))
        (f32.store (i32.add (local.get $ds) (local.get $a))
          (f32.mul (f32.load (i32.add (local.get $p) (local.get $a)))
            (f32.sub (f32.load (i32.add (local.get $dp) (local.get $a))) (local.get $sum))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tl)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows_loop))))

  ;; x [outer, inner] + m [inner], m repeated over the outer rows (an additive attention mask).
  (func (export "add_repeated")
    (param $x i32) (param $m i32) (param $out i32) (param $outer i32) (param $inner i32)
    (local $row i32) (local $i i32) (local $base i32) (local $quads i32) (local $a i32)
    (local.set $quads (i32.and (local.get $inner) (i32.const -4)))
    (block $rows_done (loop $rows_loop
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $outer)))
      (local.set $base (i32.shl (i32.mul (local.get $row) (local.get $inner)) (i32.const 2)))
      (local.set $i (i32.const 0))
      (block $q_done (loop $q
        (br_if $q_done (i32.ge_u (local.get $i) (local.get $quads)))
        (local.set $a (i32.shl (local.get $i) (i32.const 2)))
        (v128.store (i32.add (local.get $out) (i32.add (local.get $base) (local.get $a)))
          (f32x4.add (v128.load (i32.add (local.get $x) (i32.add (local.get $base) (local.get $a)))) (v128.load (i32.add (local.get $m) (local.get $a)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $q)))
      (block $t_done (loop $tl
        (br_if $t_done (i32.ge_u (local.get $i) (local.get $inner)))
        (local.set $a (i32.shl (local.get $i) (i32.const 2)))
        (f32.store (i32.add (local.get $out) (i32.add (local.get $base) (local.get $a)))
          (f32.add (f32.load (i32.add (local.get $x) (i32.add (local.get $base) (local.get $a)))) (f32.load (i32.add (local.get $m) (local.get $a)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tl)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows_loop))))

  ;; A transpose that swaps the middle two axes of x [A, B, C, D] → out [A, C, B, D]: runs of D
  ;; 4-byte values copied whole (multi-head attention's [batch, time, head, dim] ↔ [batch, head,
  ;; time, dim]). A copy, so the bits are the input's.
  (func (export "transpose_0213")
    (param $x i32) (param $out i32) (param $A i32) (param $B i32) (param $C i32) (param $D i32)
    (local $a i32) (local $b i32) (local $c i32) (local $i i32) (local $run i32) (local $quads i32)
    (local $src i32) (local $dst i32)
    (local.set $run (i32.shl (local.get $D) (i32.const 2)))
    (local.set $quads (i32.and (local.get $run) (i32.const -16)))
    (block $a_done (loop $a_loop
      (br_if $a_done (i32.ge_u (local.get $a) (local.get $A)))
      (local.set $c (i32.const 0))
      (block $c_done (loop $c_loop
        (br_if $c_done (i32.ge_u (local.get $c) (local.get $C)))
        (local.set $b (i32.const 0))
        (block $b_done (loop $b_loop
          (br_if $b_done (i32.ge_u (local.get $b) (local.get $B)))
          ;; src = ((a·B + b)·C + c)·D, dst = ((a·C + c)·B + b)·D, in bytes
          (local.set $src (i32.add (local.get $x) (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $a) (local.get $B)) (local.get $b)) (local.get $C)) (local.get $c)) (local.get $run))))
          (local.set $dst (i32.add (local.get $out) (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $a) (local.get $C)) (local.get $c)) (local.get $B)) (local.get $b)) (local.get $run))))
          (local.set $i (i32.const 0))
          (block $q_done (loop $q
            (br_if $q_done (i32.ge_u (local.get $i) (local.get $quads)))
            (v128.store (i32.add (local.get $dst) (local.get $i)) (v128.load (i32.add (local.get $src) (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $q)))
          (block $t_done (loop $tl
            (br_if $t_done (i32.ge_u (local.get $i) (local.get $run)))
            (i32.store (i32.add (local.get $dst) (local.get $i)) (i32.load (i32.add (local.get $src) (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $tl)))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br $b_loop)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $c_loop)))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (br $a_loop))))
)
