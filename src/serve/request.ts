/** Reading and checking one POST /v1/classify request: the body, the audio or features in it, the options. */
import type { IncomingMessage } from 'node:http';
import { decodeAudio } from '../audio/decode.js';
import { toMono } from '../audio/types.js';
import type { ClassifyInput } from './backend.js';
import { HttpError } from './http_error.js';
import { formBoundary, parseMultipart } from './multipart.js';

export { HttpError };

/** What POST /v1/classify takes, for the 415 answer. */
export const ACCEPTED_FORMS =
  'a raw audio body (audio/*, application/octet-stream), multipart/form-data with a file part (curl -F file=@clip.wav), or application/json with "audio" (base64) or "features"';

/** The whole body, refusing (413) as soon as it passes `limit` bytes rather than after buffering it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new HttpError(413, `body: ${declared} bytes is over the ${limit}-byte limit`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        reject(new HttpError(413, `body: over the ${limit}-byte limit`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks, size));
      }
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(e);
      }
    });
    req.on('aborted', () => {
      if (!done) {
        done = true;
        reject(new Error('client aborted the request'));
      }
    });
  });
}

export interface ClassifyRequest {
  input: ClassifyInput;
  topK: number;
  /** null: the server's default adapter */
  adapter: string | null;
}

function positiveInt(v: unknown, where: string): number {
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
    throw new HttpError(400, `${where}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

async function audioInput(bytes: Uint8Array, source: string): Promise<ClassifyInput> {
  try {
    const audio = await decodeAudio(bytes, source);
    return { kind: 'audio', samples: toMono(audio), sampleRate: audio.sampleRate };
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
  }
}

/** `features` as nested rows ([T][F]) or flat with `shape`. */
function featuresInput(v: unknown, shape: unknown): ClassifyInput {
  if (!Array.isArray(v) || v.length === 0) throw new HttpError(400, 'features: expected a non-empty array of numbers or of rows');
  let data: Float32Array;
  let dims: number[];
  if (Array.isArray(v[0])) {
    const cols = (v[0] as unknown[]).length;
    data = new Float32Array(v.length * cols);
    v.forEach((row: unknown, i) => {
      if (!Array.isArray(row) || row.length !== cols) throw new HttpError(400, `features[${i}]: expected a row of ${cols} numbers`);
      row.forEach((x: unknown, j) => {
        if (typeof x !== 'number' || !Number.isFinite(x)) throw new HttpError(400, `features[${i}][${j}]: expected a finite number`);
        data[i * cols + j] = x;
      });
    });
    dims = [v.length, cols];
  } else {
    data = new Float32Array(v.length);
    v.forEach((x: unknown, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new HttpError(400, `features[${i}]: expected a finite number`);
      data[i] = x;
    });
    dims = [v.length];
  }
  if (shape !== undefined) {
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d > 0))
      throw new HttpError(400, 'shape: expected an array of positive integers');
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new HttpError(400, `shape: [${shape.join(', ')}] holds ${n} values, features has ${data.length}`);
    dims = shape as number[];
  }
  return { kind: 'features', data, shape: dims };
}

const BASE64_RE = /^[A-Za-z0-9+/\-_]*={0,2}$/;

/**
 * A raw audio body (any content type but JSON, multipart and url-encoded forms), multipart/form-data with
 * a file part and optional `top_k` / `adapter` fields, or JSON `{"audio": "<base64>"}` or
 * `{"features": [...], "shape"?: [...]}`, each with optional `top_k` and `adapter`; the query's
 * `top_k` and `adapter` win over the body's.
 */
export async function parseClassify(
  body: Buffer,
  contentType: string | undefined,
  query: URLSearchParams,
  defaultTopK: number,
): Promise<ClassifyRequest> {
  let topK: unknown = query.get('top_k') ?? undefined;
  let adapter: string | null = query.get('adapter');
  let input: ClassifyInput;
  if (body.length === 0) throw new HttpError(400, 'body: empty (send an audio file, or JSON with "audio" or "features")');
  if (/^application\/json\b/i.test(contentType ?? '')) {
    let j: unknown;
    try {
      j = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new HttpError(400, `body: invalid JSON: ${(e as Error).message}`);
    }
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new HttpError(400, 'body: expected a JSON object');
    const o = j as Record<string, unknown>;
    topK ??= o.top_k;
    if (adapter === null && o.adapter !== undefined) {
      if (typeof o.adapter !== 'string') throw new HttpError(400, 'adapter: expected a string');
      adapter = o.adapter;
    }
    if (typeof o.audio === 'string') {
      if (!BASE64_RE.test(o.audio)) throw new HttpError(400, 'audio: not base64');
      input = await audioInput(Buffer.from(o.audio, o.audio.includes('-') || o.audio.includes('_') ? 'base64url' : 'base64'), 'audio');
    } else if (o.audio !== undefined) {
      throw new HttpError(400, 'audio: expected a base64 string');
    } else if (o.features !== undefined) {
      input = featuresInput(o.features, o.shape);
    } else {
      throw new HttpError(400, 'body: expected "audio" (base64) or "features"');
    }
  } else if (/^multipart\/form-data\b/i.test(contentType ?? '')) {
    const parts = parseMultipart(body, formBoundary(contentType!));
    const text = (name: string) => {
      const p = parts.find((x) => x.name === name && x.filename === undefined);
      return p?.data.toString('utf8');
    };
    topK ??= text('top_k');
    if (adapter === null) adapter = text('adapter') ?? null;
    // the file part: "file" or "audio" by name, else the only part that carries a file
    const files = parts.filter((p) => p.filename !== undefined || p.name === 'file' || p.name === 'audio');
    const file = files.find((p) => p.name === 'file' || p.name === 'audio') ?? (files.length === 1 ? files[0] : undefined);
    if (!file)
      throw new HttpError(
        400,
        `body: multipart/form-data needs one file part (named "file"), got ${parts.length ? parts.map((p) => `"${p.name}"`).join(', ') : 'no parts'}`,
      );
    input = await audioInput(file.data, file.filename || file.name);
  } else if (/^application\/x-www-form-urlencoded\b/i.test(contentType ?? '')) {
    // what `curl -d @clip.wav` sends (with its line breaks stripped): never intact audio
    throw new HttpError(415, `content-type: ${contentType} is not accepted (curl -d mangles binary files); send ${ACCEPTED_FORMS}`);
  } else {
    input = await audioInput(body, 'body');
  }
  return { input, topK: topK === undefined ? defaultTopK : positiveInt(topK, 'top_k'), adapter };
}
