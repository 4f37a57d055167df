/**
 * The LoAA convolutions computed directly on the [B, L, D] token layout, with no transpose to
 * [B, D, f, t] and back (issue #12). Equal to the Conv2d reference in LookAsideAdapter up to
 * float rounding; test/peft/loaa_tokens.test.ts holds the two paths together.
 *
 * Down (D -> r, K = kF*kT taps): one GEMM D -> K*r over all L tokens, then shift-and-add of the K
 * r-wide slices over the zero-padded grid. The GEMM is on the wide side, the shifting on the narrow
 * side, so no D-wide tensor is ever copied or shifted.
 * Up (r -> D): the transpose of that choice: gather the K shifted r-wide slices into [B, L, K*r]
 * (an im2col that is cheap because r is small), then one GEMM K*r -> D whose output is already the
 * [B, L, D] result, so the wide output needs no cat either.
 * Tokens outside the grid (cls, dist, prompts) see only the centre tap: for Down they read the centre
 * slice of the GEMM's output, for Up their im2col row is zero except the centre slice.
 */
import type { Tensor } from '../tensor/tensor.js';
import { cat, linear, pad, zeros } from '../tensor/functional.js';

export interface TokenConvWeights {
  /** Down: [r, D, kF, kT], its bias [r] or null. */
  downWeight: Tensor;
  downBias: Tensor | null;
  /** Up: [D, r, kF, kT], its bias [D] or null. */
  upWeight: Tensor;
  upBias: Tensor | null;
}

/** Up(GELU(Down(u))) for u [B, L, D] whose first nPre tokens are outside the [f, t] grid. */
export function loaaTokens(u: Tensor, nPre: number, grid: readonly [number, number], w: TokenConvWeights): Tensor {
  const [B, L] = u.shape;
  const [f, t] = grid;
  const [r, D, kF, kT] = w.downWeight.shape;
  const K = kF * kT;
  const [pF, pT] = [kF >> 1, kT >> 1];
  const centre = pF * kT + pT;
  if (L !== nPre + f * t) throw new Error(`loaaTokens: ${L} tokens do not make ${nPre} + ${f}x${t}`);

  // Down: rows of the [K*r, D] matrix are ordered (tap, channel), tap = a*kT + b
  const wd = w.downWeight.permute(2, 3, 0, 1).reshape(K * r, D);
  const y = linear(u, wd, null); // [B, L, K*r]
  const yGrid = pad(y.narrow(1, nPre, f * t).reshape(B, f, t, K, r), [0, 0, 0, 0, pT, pT, pF, pF]);
  let down: Tensor | null = null;
  for (let a = 0; a < kF; a++) {
    for (let b = 0; b < kT; b++) {
      // conv2d is a cross-correlation: out[i, j] += w[a, b] . x[i + a - pF, j + b - pT]
      const term = yGrid
        .narrow(1, a, f)
        .narrow(2, b, t)
        .select(3, a * kT + b);
      down = down === null ? term : down.add(term);
    }
  }
  let hGrid = (down as Tensor).reshape(B, f * t, r);
  let h = nPre > 0 ? cat([y.narrow(1, 0, nPre).narrow(2, centre * r, r), hGrid], 1) : hGrid;
  // under autocast y is bf16/fp16: a float32 bias would promote the activations back to float32
  // (conv2d casts its bias to the compute dtype the same way)
  if (w.downBias) h = h.add(w.downBias.dtype === h.dtype ? w.downBias : w.downBias.to(h.dtype));
  h = h.gelu();

  // Up: columns of the [D, K*r] matrix are ordered (tap, channel) to match the im2col below
  const wu = w.upWeight.permute(0, 2, 3, 1).reshape(D, K * r);
  const hPad = pad(h.narrow(1, nPre, f * t).reshape(B, f, t, r), [0, 0, pT, pT, pF, pF]);
  const taps: Tensor[] = [];
  for (let a = 0; a < kF; a++) {
    for (let b = 0; b < kT; b++) taps.push(hPad.narrow(1, a, f).narrow(2, b, t));
  }
  hGrid = cat(taps, 3).reshape(B, f * t, K * r);
  let cols = hGrid;
  if (nPre > 0) {
    const hs = h.narrow(1, 0, nPre);
    const opts = { dtype: h.dtype, device: h.device };
    const parts = [
      centre > 0 ? zeros([B, nPre, centre * r], opts) : null,
      hs,
      centre < K - 1 ? zeros([B, nPre, (K - 1 - centre) * r], opts) : null,
    ];
    cols = cat(
      [
        cat(
          parts.filter((p): p is Tensor => p !== null),
          2,
        ),
        hGrid,
      ],
      1,
    );
  }
  return linear(cols, wu, w.upBias);
}
