/**
 * The fbank kernel's WebAssembly, written out with wasm_asm.ts: `power` (fft.ts's real FFT of two
 * frames at once, one per f64x2 lane, into |X|^2), `mel`, `logs` and `window`, each the same float64
 * operations in the same order as the JavaScript it replaces. fft_wasm.ts lays out the memory and
 * calls them.
 */
import { TABLE_BITS } from './log_table.js';
import {
  ADD,
  assign,
  addTo,
  AND,
  ELSE,
  F64,
  F64_ADD,
  F64_DIV,
  F64_MUL,
  F64_SUB,
  f32StoreAt,
  f64,
  f64Load,
  i32LoadAt,
  MUL,
  DEMOTE,
  load64Zero,
  replaceLane,
  BLOCK,
  brIf,
  br,
  type Code,
  END,
  F64_ZERO,
  GE_U,
  GT_U,
  F64X2_ADD,
  F64X2_MUL,
  F64X2_SPLAT,
  F64X2_PMAX,
  F64X2_SUB,
  get,
  I32,
  i32,
  IF,
  load64Splat,
  LOOP,
  LT_U,
  LE_U,
  moduleBytes,
  nextWhileBelow,
  set,
  SHL,
  SHR_U,
  tee,
  V128,
  v128Load,
  v128Store,
} from './wasm_asm.js';

// parameters (byte addresses, and m = n / 2)
const [X, REV, TWR, TWI, SPR, SPI, RE, IM, PW, M] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
// i32 locals
const [S, K, LEN, H, P0, P1, P2, P3] = [10, 11, 12, 13, 14, 15, 16, 17];
// v128 locals
const [AR, AI, BR, BI, CR, CI, DR, DI, TR, TI, W1R, W1I, W2R, W2I, UR, UI, VR, VI, HALF] = Array.from({ length: 19 }, (_, i) => 18 + i);

const i32Load = (offset: number): Code => [0x28, 2, ...(offset < 128 ? [offset] : [(offset & 0x7f) | 0x80, offset >> 7])];
const vadd = (a: Code, b: Code): Code => [...a, ...b, ...F64X2_ADD];
const vsub = (a: Code, b: Code): Code => [...a, ...b, ...F64X2_SUB];
const vmul = (a: Code, b: Code): Code => [...a, ...b, ...F64X2_MUL];
const g = get;
/** v128 at base + p (both locals) */
const at = (base: number, p: number, off = 0): Code => [...g(base), ...g(p), ADD, ...v128Load(off)];
const store = (base: number, p: number, value: Code, off = 0): Code => [...g(base), ...g(p), ADD, ...value, ...v128Store(off)];
const splat = (table: number, index: Code): Code => [...g(table), ...index, ...i32(3), SHL, ADD, ...load64Splat(0)];
/** t = w * z for z = (re[p], im[p]) into TR, TI */
const twiddle = (p: number, wr: number, wi: number): Code => [
  ...vsub(vmul(at(RE, p), g(wr)), vmul(at(IM, p), g(wi))),
  ...set(TR),
  ...vadd(vmul(at(RE, p), g(wi)), vmul(at(IM, p), g(wr))),
  ...set(TI),
];

/** the bit-reversed load fused with the first two stages (twiddles 1 and -i), as fft.ts */
function firstPass(): Code {
  const pair = (a: number, b: number, sum: [number, number], diff: [number, number]): Code => [
    ...vadd([...g(a), ...v128Load(0)], [...g(b), ...v128Load(0)]),
    ...set(sum[0]),
    ...vadd([...g(a), ...v128Load(16)], [...g(b), ...v128Load(16)]),
    ...set(sum[1]),
    ...vsub([...g(a), ...v128Load(0)], [...g(b), ...v128Load(0)]),
    ...set(diff[0]),
    ...vsub([...g(a), ...v128Load(16)], [...g(b), ...v128Load(16)]),
    ...set(diff[1]),
  ];
  // four consecutive v128s at base + p0
  const four = (base: number, ...vs: Code[]): Code => vs.flatMap((v, i) => store(base, P0, v, 16 * i));
  return [
    ...i32(0),
    ...set(S),
    ...LOOP,
    ...[P0, P1, P2, P3].flatMap((p, i) => [...g(X), ...g(REV), ...g(S), ...i32(2), SHL, ADD, ...i32Load(4 * i), ADD, ...set(p)]),
    ...pair(P0, P1, [AR, AI], [BR, BI]),
    ...pair(P2, P3, [CR, CI], [DR, DI]),
    ...g(S),
    ...i32(4),
    SHL,
    ...set(P0),
    // -i * d = (di, -dr)
    ...four(RE, vadd(g(AR), g(CR)), vadd(g(BR), g(DI)), vsub(g(AR), g(CR)), vsub(g(BR), g(DI))),
    ...four(IM, vadd(g(AI), g(CI)), vsub(g(BI), g(DR)), vsub(g(AI), g(CI)), vadd(g(BI), g(DR))),
    ...nextWhileBelow(S, i32(4), g(M)),
  ];
}

/** the remaining stages two at a time (lengths L and 2L), then a last single one when their count is odd */
function laterStages(): Code {
  const fused = [
    ...i32(0),
    ...set(K),
    ...LOOP, // k < h
    ...splat(TWR, [...g(H), ...g(K), ADD]),
    ...set(W1R),
    ...splat(TWI, [...g(H), ...g(K), ADD]),
    ...set(W1I),
    ...splat(TWR, [...g(LEN), ...g(K), ADD]),
    ...set(W2R),
    ...splat(TWI, [...g(LEN), ...g(K), ADD]),
    ...set(W2I),
    ...g(S),
    ...g(K),
    ADD,
    ...i32(4),
    SHL,
    ...set(P0),
    ...g(P0),
    ...g(H),
    ...i32(4),
    SHL,
    ADD,
    ...set(P1),
    ...g(P0),
    ...g(LEN),
    ...i32(4),
    SHL,
    ADD,
    ...set(P2),
    ...g(P2),
    ...g(H),
    ...i32(4),
    SHL,
    ADD,
    ...set(P3),
    ...twiddle(P1, W1R, W1I),
    ...vadd(at(RE, P0), g(TR)),
    ...set(AR),
    ...vadd(at(IM, P0), g(TI)),
    ...set(AI),
    ...vsub(at(RE, P0), g(TR)),
    ...set(BR),
    ...vsub(at(IM, P0), g(TI)),
    ...set(BI),
    ...twiddle(P3, W1R, W1I),
    ...vadd(at(RE, P2), g(TR)),
    ...set(CR),
    ...vadd(at(IM, P2), g(TI)),
    ...set(CI),
    ...vsub(at(RE, P2), g(TR)),
    ...set(DR),
    ...vsub(at(IM, P2), g(TI)),
    ...set(DI),
    ...vsub(vmul(g(CR), g(W2R)), vmul(g(CI), g(W2I))),
    ...set(UR),
    ...vadd(vmul(g(CR), g(W2I)), vmul(g(CI), g(W2R))),
    ...set(UI),
    ...vadd(vmul(g(DR), g(W2I)), vmul(g(DI), g(W2R))),
    ...set(VR),
    ...vsub(vmul(g(DI), g(W2I)), vmul(g(DR), g(W2R))),
    ...set(VI),
    ...store(RE, P0, vadd(g(AR), g(UR))),
    ...store(IM, P0, vadd(g(AI), g(UI))),
    ...store(RE, P2, vsub(g(AR), g(UR))),
    ...store(IM, P2, vsub(g(AI), g(UI))),
    ...store(RE, P1, vadd(g(BR), g(VR))),
    ...store(IM, P1, vadd(g(BI), g(VI))),
    ...store(RE, P3, vsub(g(BR), g(VR))),
    ...store(IM, P3, vsub(g(BI), g(VI))),
    ...nextWhileBelow(K, i32(1), g(H)),
  ];
  const single = [
    ...g(LEN),
    ...i32(1),
    SHR_U,
    ...set(H),
    ...i32(0),
    ...set(K),
    ...LOOP, // k < h
    ...splat(TWR, [...g(H), ...g(K), ADD]),
    ...set(W1R),
    ...splat(TWI, [...g(H), ...g(K), ADD]),
    ...set(W1I),
    ...g(K),
    ...i32(4),
    SHL,
    ...set(P0),
    ...LOOP, // p = k, k + len, ...
    ...g(P0),
    ...g(H),
    ...i32(4),
    SHL,
    ADD,
    ...set(P1),
    ...twiddle(P1, W1R, W1I),
    ...store(RE, P1, vsub(at(RE, P0), g(TR))),
    ...store(IM, P1, vsub(at(IM, P0), g(TI))),
    ...store(RE, P0, vadd(at(RE, P0), g(TR))),
    ...store(IM, P0, vadd(at(IM, P0), g(TI))),
    ...nextWhileBelow(P0, [...g(LEN), ...i32(4), SHL], [...g(M), ...i32(4), SHL]),
    ...nextWhileBelow(K, i32(1), g(H)),
  ];
  return [
    ...i32(8),
    ...set(LEN),
    ...BLOCK,
    ...LOOP, // while 2 * len <= m
    ...g(LEN),
    ...i32(1),
    SHL,
    ...g(M),
    GT_U,
    ...brIf(1),
    ...g(LEN),
    ...i32(1),
    SHR_U,
    ...set(H),
    ...i32(0),
    ...set(S),
    ...LOOP, // blocks of 2 * len
    ...fused,
    ...nextWhileBelow(S, [...g(LEN), ...i32(1), SHL], g(M)),
    ...g(LEN),
    ...i32(2),
    SHL,
    ...set(LEN),
    ...br(0),
    END,
    END,
    ...g(LEN),
    ...g(M),
    LE_U,
    ...IF,
    ...single,
    END,
  ];
}

/** X_k = E_k + w^k O_k and X_{M-k} from the same bins, into |X|^2, as fft.ts */
function split(): Code {
  const sq = (a: Code): Code => vmul(a, a);
  return [
    ...[0x44, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f],
    ...F64X2_SPLAT,
    ...set(HALF), // 0.5
    ...i32(0),
    ...set(P0),
    ...g(M),
    ...i32(4),
    SHL,
    ...set(P1),
    ...store(PW, P0, sq(vadd(at(RE, P0), at(IM, P0)))),
    ...store(PW, P1, sq(vsub(at(RE, P0), at(IM, P0)))),
    ...i32(1),
    ...set(K),
    ...LOOP,
    ...g(K),
    ...i32(4),
    SHL,
    ...set(P0),
    ...g(M),
    ...g(K),
    ...[0x6b],
    ...i32(4),
    SHL,
    ...set(P1),
    ...vmul(g(HALF), vadd(at(RE, P0), at(RE, P1))),
    ...set(AR), // er
    ...vmul(g(HALF), vsub(at(IM, P0), at(IM, P1))),
    ...set(AI), // ei
    ...vmul(g(HALF), vadd(at(IM, P0), at(IM, P1))),
    ...set(BR), // or
    ...vmul(g(HALF), vsub(at(RE, P1), at(RE, P0))),
    ...set(BI), // oi = -0.5 (a - c)
    ...splat(SPR, g(K)),
    ...set(W1R),
    ...splat(SPI, g(K)),
    ...set(W1I),
    ...vsub(vmul(g(W1R), g(BR)), vmul(g(W1I), g(BI))),
    ...set(TR),
    ...vadd(vmul(g(W1R), g(BI)), vmul(g(W1I), g(BR))),
    ...set(TI),
    ...store(PW, P0, vadd(sq(vadd(g(AR), g(TR))), sq(vadd(g(AI), g(TI))))),
    ...store(PW, P1, vadd(sq(vsub(g(AR), g(TR))), sq(vsub(g(TI), g(AI))))),
    ...g(K),
    ...i32(1),
    ADD,
    ...tee(K),
    ...g(M),
    ...i32(1),
    SHR_U,
    LE_U,
    ...brIf(0),
    END,
  ];
}

/**
 * `mel`: out[b] = sum of w * pw over filter b's bins, both lanes, in the order melInto (kaldi.ts)
 * adds them, then `floor < e ? e : floor` (NaN gives the floor). Parameters: pw, starts, ends (byte
 * offsets into pw), weights, out, bins, floor (the address of a float64).
 */
function mel(): Code {
  const [PWM, STARTS, ENDS, W, OUT, NB, FLOOR, B, P, E, WP, O, ACC, FL] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const entry = (table: number): Code => [...g(PWM), ...g(table), ...g(B), ...i32(2), SHL, ADD, ...i32Load(0), ADD];
  return [
    ...g(FLOOR),
    ...load64Splat(0),
    ...set(FL),
    ...assign([B, i32(0)], [WP, g(W)], [O, g(OUT)]),
    ...LOOP,
    ...F64_ZERO,
    ...F64X2_SPLAT,
    ...set(ACC),
    ...entry(STARTS),
    ...set(P),
    ...entry(ENDS),
    ...set(E),
    ...BLOCK,
    ...g(P),
    ...g(E),
    GE_U,
    ...brIf(0),
    ...LOOP,
    ...vadd(g(ACC), vmul([...g(WP), ...load64Splat(0)], [...g(P), ...v128Load(0)])),
    ...set(ACC),
    ...addTo(WP, i32(8)),
    ...nextWhileBelow(P, i32(16), g(E)),
    END,
    ...g(O),
    ...g(FL),
    ...g(ACC),
    ...F64X2_PMAX,
    ...v128Store(0),
    ...addTo(O, i32(16)),
    ...nextWhileBelow(B, i32(1), g(NB)),
  ];
}

/**
 * `logs`: log_table.ts's `logsInto` for both lanes of the energies (floored by `mel`, so positive and
 * normal, or +Infinity, whose log is itself), the same float64 operations in the same order, into
 * float32 rows: lane 0's `bins` values, then lane 1's. Parameters: energies, out, bins, tables.
 */
function logs(): Code {
  const [E, OUT, NB, TAB, I, O, HI, BE, J, X, R] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const table = (offset: number, index: number): Code => [...g(TAB), ...g(index), ...i32(3), SHL, ADD, ...f64Load(offset)];
  const lane = (l: number): Code => [
    ...g(E),
    ...g(I),
    ADD,
    ...f64Load(8 * l),
    ...set(X),
    ...g(E),
    ...g(I),
    ADD,
    ...i32LoadAt(8 * l + 4),
    ...set(HI), // the high word: WebAssembly is little-endian
    ...g(HI),
    ...i32(20),
    SHR_U,
    ...set(BE),
    ...g(O),
    ...i32(4 * l),
    ...g(NB),
    MUL,
    ADD,
    ...g(BE),
    ...i32(2047),
    GE_U,
    ...[0x04, 0x7c], // if (result f64)
    ...g(X),
    ELSE,
    ...g(HI),
    ...i32(20 - TABLE_BITS),
    SHR_U,
    ...i32((1 << TABLE_BITS) - 1),
    AND,
    ...set(J),
    ...g(X),
    ...table(0, BE),
    F64_MUL,
    ...table(8 * 4096, J),
    F64_SUB,
    ...table(8 * (4096 + 128), J),
    F64_MUL,
    ...set(R),
    ...table(8 * 2048, BE),
    ...table(8 * (4096 + 256), J),
    F64_ADD,
    // r - r * r * (0.5 - r * (1 / 3 - r * (0.25 - r * (0.2 - r / 6))))
    ...g(R),
    ...g(R),
    ...g(R),
    F64_MUL,
    ...f64(0.5),
    ...g(R),
    ...f64(1 / 3),
    ...g(R),
    ...f64(0.25),
    ...g(R),
    ...f64(0.2),
    ...g(R),
    ...f64(6),
    F64_DIV,
    F64_SUB,
    F64_MUL,
    F64_SUB,
    F64_MUL,
    F64_SUB,
    F64_MUL,
    F64_SUB,
    F64_MUL,
    F64_SUB,
    F64_ADD,
    END,
    DEMOTE,
    ...f32StoreAt(0),
  ];
  return [
    ...assign([I, i32(0)], [O, g(OUT)]),
    ...LOOP,
    ...lane(0),
    ...lane(1),
    ...addTo(I, i32(16)),
    ...g(O),
    ...i32(4),
    ADD,
    ...tee(O),
    ...g(OUT),
    ...g(NB),
    ...i32(2),
    SHL,
    ADD,
    LT_U,
    ...brIf(0),
    END,
  ];
}

/**
 * `window`: kaldi.ts's windowInto for two frames, frame a from srcA and frame b from srcB (byte
 * addresses of float64 samples): dc removal, preemphasis (x[-1] := x[0]) and the window into the
 * pair buffer x, the same float64 operations in the same order. Parameters: srcA, srcB, consts (the
 * two means, p, 1 - p), window, size, x.
 */
function windowPair(): Code {
  const [SA, SB, CST, WIN, NW, XP, J, END_, MEANS, P, Q, PREV, CUR] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const pairAt = (j: Code): Code => [
    ...g(SA),
    ...j,
    ADD,
    ...load64Zero(0),
    ...g(SB),
    ...j,
    ADD,
    ...f64Load(0),
    ...replaceLane(1),
    ...g(MEANS),
    ...F64X2_SUB,
  ];
  return [
    ...g(CST),
    ...v128Load(0),
    ...set(MEANS),
    ...g(CST),
    ...load64Splat(16),
    ...set(P),
    ...g(CST),
    ...load64Splat(24),
    ...set(Q),
    ...pairAt(i32(0)),
    ...set(PREV),
    ...g(XP),
    ...vmul(vmul(g(PREV), g(Q)), [...g(WIN), ...load64Splat(0)]),
    ...v128Store(0),
    ...g(NW),
    ...i32(3),
    SHL,
    ...set(END_),
    ...i32(8),
    ...set(J),
    ...BLOCK,
    ...g(J),
    ...g(END_),
    GE_U,
    ...brIf(0),
    ...LOOP,
    ...pairAt(g(J)),
    ...set(CUR),
    ...g(XP),
    ...g(J),
    ...i32(1),
    SHL,
    ADD,
    ...vmul(vsub(g(CUR), vmul(g(P), g(PREV))), [...g(WIN), ...g(J), ADD, ...load64Splat(0)]),
    ...v128Store(0),
    ...g(CUR),
    ...set(PREV),
    ...nextWhileBelow(J, i32(8), g(END_)),
    END,
  ];
}

let bytes: Uint8Array | undefined;
/** The module (built once): power, mel, logs and window, the functions PairSpectrum calls. */
export const pairSpectrumModule = (): Uint8Array =>
  (bytes ??= moduleBytes([
    {
      name: 'power',
      params: 10,
      locals: [
        [8, I32],
        [19, V128],
      ],
      code: [...firstPass(), ...laterStages(), ...split()],
    },
    {
      name: 'mel',
      params: 7,
      locals: [
        [5, I32],
        [2, V128],
      ],
      code: mel(),
    },
    {
      name: 'logs',
      params: 4,
      locals: [
        [5, I32],
        [2, F64],
      ],
      code: logs(),
    },
    {
      name: 'window',
      params: 6,
      locals: [
        [2, I32],
        [5, V128],
      ],
      code: windowPair(),
    },
  ]));
