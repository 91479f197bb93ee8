import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/** A local S3-protocol store for the demo (s3rver, a dev dependency); absent → the S3 step is skipped. */
export async function startDemoS3(): Promise<{ env: Record<string, string>; close(): Promise<void> } | null> {
  let S3rver: new (o: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };
  try {
    S3rver = ((await import('s3rver' as string)) as { default: typeof S3rver }).default;
  } catch {
    return null;
  }
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: mkdtempSync(join(tmpdir(), 'vast-mcp-demo-s3-')) });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  await client.send(new CreateBucketCommand({ Bucket: 'demo-artifacts' }));
  client.destroy();
  return {
    env: {
      VAST_MCP_S3_ENDPOINT: endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      VAST_MCP_S3_FORCE_PATH_STYLE: 'true',
      VAST_MCP_S3_CHECKSUMS: 'when_required',
    },
    close: () => server.close(),
  };
}
