/**
 * multipart/form-data bodies (RFC 7578), as `curl -F file=@clip.wav` and HTML forms send them: the
 * parts of a body already read whole (readBody caps its size), each with its name, file name and bytes.
 */
import { HttpError } from './http_error.js';

export interface FormPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/** The boundary of a multipart/form-data content type; a 400 when it is missing. */
export function formBoundary(contentType: string): string {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const b = m?.[1] ?? m?.[2];
  if (!b || b.length > 70) throw new HttpError(400, 'content-type: multipart/form-data without a valid boundary');
  return b;
}

export function parseMultipart(body: Buffer, boundary: string): FormPart[] {
  const delim = Buffer.from(`--${boundary}`);
  const parts: FormPart[] = [];
  let at = body.indexOf(delim);
  if (at < 0) throw new HttpError(400, 'body: multipart/form-data without its boundary line');
  for (;;) {
    at += delim.length;
    if (body.subarray(at, at + 2).toString('latin1') === '--') return parts; // the closing delimiter
    if (body.subarray(at, at + 2).toString('latin1') === '\r\n') at += 2;
    const headEnd = body.indexOf('\r\n\r\n', at);
    if (headEnd < 0) throw new HttpError(400, `body: multipart part ${parts.length + 1} has no end of headers`);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd + 4);
    if (next < 0) throw new HttpError(400, `body: multipart part ${parts.length + 1} is not closed by the boundary`);
    parts.push(partOf(body.subarray(at, headEnd).toString('utf8'), body.subarray(headEnd + 4, next), parts.length + 1));
    at = next + 2;
  }
}

function partOf(head: string, data: Buffer, n: number): FormPart {
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const disp = headers.get('content-disposition') ?? '';
  if (!/^form-data\b/i.test(disp)) throw new HttpError(400, `body: multipart part ${n}: expected Content-Disposition: form-data`);
  const param = (k: string) =>
    new RegExp(`;\\s*${k}="([^"]*)"`, 'i').exec(disp)?.[1] ?? new RegExp(`;\\s*${k}=([^;\\s]+)`, 'i').exec(disp)?.[1];
  const name = param('name');
  if (name === undefined) throw new HttpError(400, `body: multipart part ${n} has no name`);
  return { name, filename: param('filename'), contentType: headers.get('content-type'), data };
}
