import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { freePort } from '../../src/distributed/launch.js';
import { nativeDist } from '../../src/distributed/native.js';
import { glooSkip } from './ranks.js';

/** Local addresses (hex, as /proc/net/tcp{,6} print them) of the sockets listening on `port`. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((c) => c.length > 3 && c[3] === '0A' && c[1]?.endsWith(`:${hexPort}`))
      .map((c) => c[1]!.split(':')[0]!);
  });
}

// issue 25: c10d's TCPStore server listened on every interface even for a single-node run, where
// any host could read and write the rendezvous; a loopback master address now keeps it on 127.0.0.1
test('a single-node store listens on 127.0.0.1 only, not on every interface', { skip: glooSkip() }, async () => {
  const port = await freePort();
  const d = nativeDist();
  const g = new d.ProcessGroup({ backend: 'gloo', rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 10_000 });
  try {
    const addrs = listeners(port);
    assert.ok(addrs.length > 0, `a socket listens on ${port}`);
    assert.deepEqual([...new Set(addrs)], ['0100007F'], `listening addresses on ${port}: ${addrs.join(', ')} (0100007F is 127.0.0.1)`);
  } finally {
    g.shutdown();
  }
});
