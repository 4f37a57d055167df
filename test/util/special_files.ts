/** FIFOs, sockets and symlinks for the tests of the guarded file layer (issue #25). */
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { after } from 'node:test';

/** A FIFO at `path` (mkfifo), or false where mkfifo is missing. */
export function mkfifo(path: string): boolean {
  return spawnSync('mkfifo', [path]).status === 0;
}

export const haveMkfifo = spawnSync('sh', ['-c', 'command -v mkfifo']).status === 0;

/** A listening Unix socket at `path`, closed when the test file ends. */
export async function unixSocket(path: string): Promise<Server> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(path, () => resolve()));
  after(() => srv.close());
  return srv;
}
