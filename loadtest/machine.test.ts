import { describe, expect, it } from 'vitest';
import { otherServers } from './machine.js';

describe('otherServers', () => {
  it('names nats-server, etcd and synod server processes, and nothing else or excluded', () => {
    const procs = [
      { pid: 10, argv: ['/usr/sbin/nats-server', '-a', '127.0.0.1'] },
      { pid: 11, argv: ['/usr/bin/etcd', '--name', 'e1'] },
      { pid: 12, argv: ['/usr/bin/node', '/work/main/services/cli/dist/bin/synod.mjs', 'spanserver', '--node-id', 'n1'] },
      { pid: 13, argv: ['node', '/usr/bin/synod', 'up', '--data-dir', '/tmp/x'] },
      { pid: 14, argv: ['/usr/bin/node', '/usr/bin/synod', 'status'] },
      { pid: 15, argv: ['bash', '-c', 'echo etcd nats-server'] },
      { pid: 16, argv: ['/usr/bin/etcdctl', 'check', 'perf'] },
      { pid: 17, argv: ['/usr/sbin/nats-server'] },
    ];
    expect(otherServers(procs, new Set([17]))).toEqual(['nats-server(10)', 'etcd(11)', 'synod(12)', 'synod(13)']);
    expect(otherServers([], new Set())).toEqual([]);
  });
});
