import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { isPlainRelative } from '../../server/copy/s3-keys.js';
import { JobSpecSchema, validateSpec } from '../../server/jobs/job-spec.js';
import { listPrefixFiles, MAX_PREFIX_OBJECTS, parseInputUri, prefixDigest, prefixFiles } from '../../server/jobs/s3-inputs.js';

const obj = (key: string, size = 3, etag = `"${key.length}"`) => ({ key, etag, size });

describe('S3 job inputs: pure helpers', () => {
  it.each([
    ['a', true],
    ['a/b/c.bin', true],
    ['', false],
    ['..', false],
    ['a/../b', false],
    ['./a', false],
    ['a//b', false],
    ['a/', false],
    ['a\\b', false],
    ['a\u0001b', false],
    ['a\nb', false],
  ])('isPlainRelative(%j) is %s', (rel, ok) => {
    expect(isPlainRelative(rel)).toBe(ok);
  });

  it('tells one object from a prefix by the trailing slash, and refuses a URI that names nothing', () => {
    expect(parseInputUri('s3://data/models/m.bin')).toEqual({ uri: 's3://data/models/m.bin', bucket: 'data', key: 'models/m.bin', isPrefix: false });
    expect(parseInputUri('s3://data/sets/train/')).toMatchObject({ bucket: 'data', key: 'sets/train', isPrefix: true });
    expect(parseInputUri('s3://data/')).toMatchObject({ key: '', isPrefix: true });
    expect(() => parseInputUri('s3://data')).toThrow(/names no object/);
    expect(() => parseInputUri('s3://data/a/../b')).toThrow(/plain path segments/);
  });

  it('digests a listing independently of its order, and any added, rewritten or resized object changes it', () => {
    const base = [obj('p/a'), obj('p/b/c', 5)];
    const d = prefixDigest(base);
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    expect(prefixDigest([...base].reverse())).toBe(d);
    expect(prefixDigest([...base, obj('p/z')])).not.toBe(d);
    expect(prefixDigest([obj('p/a', 3, '"other"'), obj('p/b/c', 5)])).not.toBe(d);
    expect(prefixDigest([obj('p/a', 4), obj('p/b/c', 5)])).not.toBe(d);
  });

  it('maps keys under the prefix to relative paths and skips empty folder markers', () => {
    const files = prefixFiles('s3://b/p/', 'p/', [obj('p/', 0), obj('p/a.txt'), obj('p/sub/', 0), obj('p/sub/b.bin')]);
    expect(files.map((f) => f.rel)).toEqual(['a.txt', 'sub/b.bin']);
  });

  it.each([
    ['p/../evil', '"p/../evil"'],
    ['p/./a', '"p/./a"'],
    ['p/a//b', '"p/a//b"'],
    ['p/a\\b', '"p/a\\\\b"'],
    ['p/a\u0007b', '"p/a\\u0007b"'],
    ['p/sub/', '"p/sub/"'],
  ])('refuses the untrusted key %j, naming it quoted', (key, shown) => {
    const run = () => prefixFiles('s3://b/p/', 'p/', [obj('p/ok'), obj(key, 2)]);
    expect(run).toThrow(/cannot be placed safely on the instance/);
    expect(run).toThrow(shown);
  });

  it('truncates a very long hostile key in the message', () => {
    const key = `p/../${'x'.repeat(500)}`;
    let msg = '';
    try {
      prefixFiles('s3://b/p/', 'p/', [obj(key)]);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain(JSON.stringify(key.slice(0, 120)));
    expect(msg).not.toContain('x'.repeat(200));
  });

  it('refuses a key that another key needs as a directory', () => {
    expect(() => prefixFiles('s3://b/p/', 'p/', [obj('p/a'), obj('p/a/b')])).toThrow(/need a directory where another object is a file/);
  });

  it('refuses a prefix of more than MAX_PREFIX_OBJECTS objects, listing no further pages', async () => {
    let pages = 0;
    // A stand-in store: every page holds 1,000 objects and says more follow.
    const store = {
      send: async () => {
        pages++;
        return {
          Contents: Array.from({ length: 1000 }, (_, i) => ({ Key: `p/${pages}-${i}`, ETag: '"e"', Size: 1 })),
          IsTruncated: true,
          NextContinuationToken: 't',
        };
      },
    } as unknown as S3Client;
    await expect(listPrefixFiles(store, parseInputUri('s3://bkt/p/'))).rejects.toThrow(/holds more than 10000 objects/);
    expect(MAX_PREFIX_OBJECTS).toBe(10_000);
    expect(pages).toBe(11);
  });
});

describe('S3 job inputs: the spec', () => {
  const spec = (inputs: unknown[]) =>
    JobSpecSchema.parse({
      name: 'j',
      image: 'img',
      command: 'true',
      disk_gb: 10,
      interruptible: false,
      outputs: ['/workspace/out'],
      output_dir: 'out',
      max_cost_usd: 1,
      inputs,
    });
  const check = (inputs: unknown[]) => validateSpec(spec(inputs), () => false);

  it('takes exactly one of local_path or s3_uri per input', () => {
    expect(() => check([{ local_path: 'a', remote_path: '/workspace/a' }])).not.toThrow();
    expect(() => check([{ s3_uri: 's3://bkt/a', remote_path: '/workspace/a' }])).not.toThrow();
    expect(() => check([{ local_path: 'a', s3_uri: 's3://bkt/a', remote_path: '/workspace/a' }])).toThrow(/exactly one of local_path or s3_uri/);
    expect(() => check([{ remote_path: '/workspace/a' }])).toThrow(/inputs\[0\].*exactly one of local_path or s3_uri/);
    expect(() => check([{ s3_uri: 's3://bkt', remote_path: '/workspace/a' }])).toThrow(/names no object/);
  });

  it('never lets the user set a pin', () => {
    expect(() => spec([{ s3_uri: 's3://bkt/a', remote_path: '/workspace/a', pin: { kind: 'object', etag: '"x"', size: 1 } }])).toThrow(
      /unrecognized_keys[\s\S]*"pin"/,
    );
  });
});
