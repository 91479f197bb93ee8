import { describe, expect, it } from 'vitest';
import { uncoveredFiles } from '../../server/safety/destroy-gate.js';
import type { VerifiedCopy } from '../../server/state/ledger.js';

const copy = (remote_path: string): VerifiedCopy => ({
  type: 'verified_copy',
  instance_id: 1,
  remote_path,
  destination: '/tmp/x',
  size: 1,
  sha256_remote: 'a'.repeat(64),
  sha256_local: 'a'.repeat(64),
  at: 1,
});
const files = [
  { path: '/workspace/ckpt/a.pt', bytes: 10 },
  { path: '/workspace/ckpt/sub/b.pt', bytes: 20 },
  { path: '/workspace/ckpt-old/c.pt', bytes: 30 },
  { path: '/workspace/log.txt', bytes: 5 },
];

describe('files not covered by a verified copy', () => {
  it('counts a directory copy for every file below it, and nothing that merely shares its prefix', () => {
    expect(uncoveredFiles(files, [copy('/workspace/ckpt')]).map((f) => f.path)).toEqual(['/workspace/ckpt-old/c.pt', '/workspace/log.txt']);
  });

  it('resolves relative and dotted copy paths under /workspace', () => {
    expect(uncoveredFiles(files, [copy('ckpt/./sub'), copy('/workspace/x/../log.txt')]).map((f) => f.path)).toEqual([
      '/workspace/ckpt-old/c.pt',
      '/workspace/ckpt/a.pt',
    ]);
  });

  it('lists everything, largest first, when nothing was copied', () => {
    expect(uncoveredFiles(files, []).map((f) => f.bytes)).toEqual([30, 20, 10, 5]);
  });
});
