import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
// s3rver speaks the S3 protocol over HTTP; it is started by the tests themselves.
import S3rver from 's3rver';
import { makeS3Client, type S3Config } from '../../server/copy/s3-store.js';

export interface TestS3 {
  config: S3Config;
  close(): Promise<void>;
}

export async function startS3(buckets: string[], checksums: S3Config['checksums'] = 'when_required'): Promise<TestS3> {
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: mkdtempSync(join(tmpdir(), 's3rver-')) });
  const { port } = (await server.run()) as { port: number };
  const config: S3Config = {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    sessionToken: null,
    forcePathStyle: true,
    checksums,
  };
  const client = await makeS3Client(config);
  for (const b of buckets) await client.send(new CreateBucketCommand({ Bucket: b }));
  client.destroy();
  return { config, close: () => server.close() };
}
