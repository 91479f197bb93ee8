import { createHash } from 'node:crypto';
import type { GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { PassThrough, type Readable } from 'node:stream';
import { HashTap } from './hash-tap.js';
import { InputError, VastMcpError } from '../errors.js';

/** Where off-box artifacts go. Endpoint-specific options belong here, not in code. */
export interface S3Config {
  endpoint: string | null;
  region: string;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  sessionToken: string | null;
  forcePathStyle: boolean;
  /** 'when_required' for stores such as s3rver, whose streamed uploads the SDK defaults corrupt. */
  checksums: 'when_supported' | 'when_required';
  /**
   * Where authenticated users may read and write with this server's credentials (job inputs and outputs):
   * s3://bucket/prefix entries, `{user}` standing for the caller's name. Empty: no S3 for them.
   */
  userPrefixes?: string[];
}

export function s3ConfigFromEnv(env: NodeJS.ProcessEnv): S3Config {
  return {
    endpoint: env.VAST_MCP_S3_ENDPOINT ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? null,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    accessKeyId: env.AWS_ACCESS_KEY_ID ?? null,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? null,
    sessionToken: env.AWS_SESSION_TOKEN ?? null,
    forcePathStyle: /^(1|true|yes)$/i.test(env.VAST_MCP_S3_FORCE_PATH_STYLE ?? ''),
    checksums: /^when_required$/i.test(env.VAST_MCP_S3_CHECKSUMS ?? '') ? 'when_required' : 'when_supported',
    userPrefixes: (env.VAST_MCP_S3_USER_PREFIXES ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  };
}

export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m)
    throw new InputError(
      `s3_uri ${JSON.stringify(uri)} must look like s3://bucket-name/optional/prefix (bucket: 3–63 lowercase letters, digits, dots, dashes).`,
    );
  return { bucket: m[1]!, prefix: (m[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/** The AWS SDK is loaded on first use only: it is large, and most sessions never touch S3. */
export async function makeS3Client(c: S3Config): Promise<S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const checksum = c.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  return new S3Client({
    region: c.region,
    endpoint: c.endpoint ?? undefined,
    forcePathStyle: c.forcePathStyle,
    credentials:
      c.accessKeyId && c.secretAccessKey
        ? { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken ?? undefined }
        : undefined,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
  });
}

/** Streams `source` into the bucket, hashing what was sent. */
export async function putStream(
  client: S3Client,
  bucket: string,
  key: string,
  source: Readable,
  onBytes: (n: number) => void,
): Promise<{ sha256: string; bytes: number }> {
  const tap = new HashTap(createHash('sha256'), onBytes);
  const body = new PassThrough();
  source.pipe(tap).pipe(body);
  source.on('error', (e) => body.destroy(e));
  const { Upload } = await import('@aws-sdk/lib-storage');
  await new Upload({ client, params: { Bucket: bucket, Key: key, Body: body }, queueSize: 4, partSize: 8 * 1024 * 1024 }).done();
  return { sha256: tap.hash.digest('hex'), bytes: tap.bytes };
}

/** Reads the stored object back and hashes it: what the store holds, not what we meant to send. */
export async function readBackSha256(client: S3Client, bucket: string, key: string): Promise<{ sha256: string; size: number }> {
  const { GetObjectCommand, HeadObjectCommand } = await import('@aws-sdk/client-s3');
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const obj = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of obj.Body as Readable) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  if (head.ContentLength !== undefined && head.ContentLength !== size) return { sha256: 'size-mismatch', size };
  return { sha256: hash.digest('hex'), size };
}

/**
 * Downloads an object to a local file, hashing the bytes written: the caller compares with the verified sha256.
 * With `ifMatch` the store is asked for exactly that version (If-Match) and the answer's ETag is checked
 * too, since some stores ignore the condition: a different version throws `s3_object_changed`, nothing written.
 * `exclusive` creates the file and never opens an existing one (nor follows a link put in its place).
 */
export async function getToFile(
  client: S3Client,
  bucket: string,
  key: string,
  dest: string,
  opts: { ifMatch?: string; exclusive?: boolean } = {},
): Promise<{ sha256: string; size: number }> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const { createWriteStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  let obj: GetObjectCommandOutput;
  try {
    obj = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: opts.ifMatch }));
  } catch (e) {
    if (opts.ifMatch !== undefined && isChangedOrGone(e)) throw changed(bucket, key);
    throw e;
  }
  if (opts.ifMatch !== undefined && obj.ETag !== opts.ifMatch) {
    (obj.Body as Readable | undefined)?.destroy();
    throw changed(bucket, key);
  }
  const tap = new HashTap(createHash('sha256'), () => undefined);
  await pipeline(obj.Body as Readable, tap, createWriteStream(dest, { mode: 0o600, flags: opts.exclusive ? 'wx' : 'w' }));
  return { sha256: tap.hash.digest('hex'), size: tap.bytes };
}

/** A conditional read refused (412) or an object no longer there (404): the version asked for is gone. */
export function isChangedOrGone(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return ['PreconditionFailed', 'NoSuchKey', 'NotFound'].includes(err.name ?? '') || [404, 412].includes(err.$metadata?.httpStatusCode ?? 0);
}

function changed(bucket: string, key: string): VastMcpError {
  return new VastMcpError(`s3://${bucket}/${key} is no longer the version that was asked for.`, 's3_object_changed');
}

export interface ListedObject {
  key: string;
  etag: string;
  size: number;
}

/** One object's version and size, or null when it does not exist. */
export async function headObject(client: S3Client, bucket: string, key: string): Promise<ListedObject | null> {
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { key, etag: h.ETag ?? '', size: h.ContentLength ?? 0 };
  } catch (e) {
    if ((e as { name?: string }).name === 'NotFound' || (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
      return null;
    throw e;
  }
}

/** Every object whose key starts with `prefix`, page by page; stops with `truncated` once more than `max` were seen. */
export async function listObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  max: number,
): Promise<{ objects: ListedObject[]; truncated: boolean }> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const objects: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }));
    for (const o of page.Contents ?? []) objects.push({ key: o.Key ?? '', etag: o.ETag ?? '', size: o.Size ?? 0 });
    if (objects.length > max) return { objects: objects.slice(0, max), truncated: true };
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { objects, truncated: false };
}
