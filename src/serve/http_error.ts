/** An HTTP answer other than 200, thrown by the request parsers and the server; `message` is what the client reads. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
