import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { checkPrefix, isPlainRelative } from '../copy/s3-keys.js';
import { headObject, listObjects, makeS3Client, parseS3Uri, type ListedObject } from '../copy/s3-store.js';
import type { ServerDeps } from '../deps.js';
import { InputError, VastMcpError } from '../errors.js';
import type { JobSpec } from './job-spec.js';

/** A prefix input is placed file by file: more objects than this is refused at submit. */
export const MAX_PREFIX_OBJECTS = 10_000;

/** An `s3_uri` input: one object, or (ending in `/`) every object under a prefix. */
export interface S3InputRef {
  uri: string;
  bucket: string;
  key: string;
  isPrefix: boolean;
}

/** What submit saw, stored with the input: the job places exactly that version or fails. */
export type S3InputPin = { kind: 'object'; etag: string; size: number } | { kind: 'prefix'; digest: string; objects: number; bytes: number };

/** A listed object and the path it takes below the input's remote_path. */
export interface PrefixFile extends ListedObject {
  rel: string;
}

export function parseInputUri(uri: string): S3InputRef {
  // parseS3Uri drops trailing slashes, and with them the difference between an object and a prefix.
  const isPrefix = uri.endsWith('/');
  const { bucket, prefix } = parseS3Uri(uri);
  checkPrefix(prefix);
  if (!isPrefix && !prefix)
    throw new InputError(
      `input s3_uri ${JSON.stringify(uri)} names no object: give s3://bucket/key for one object, or end it with / (s3://bucket/prefix/) for every object under a prefix.`,
    );
  return { uri, bucket, key: prefix, isPrefix };
}

function listedPrefix(ref: S3InputRef): string {
  return ref.key ? `${ref.key}/` : '';
}

/** One digest for a listing: sha256 over its sorted "key etag size" lines. Any object added, removed or rewritten changes it. */
export function prefixDigest(objects: ListedObject[]): string {
  const h = createHash('sha256');
  for (const o of [...objects].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)))
    h.update(`${JSON.stringify(o.key)} ${o.etag} ${o.size}\n`);
  return h.digest('hex');
}

const quoted = (keys: string[]) =>
  keys
    .slice(0, 5)
    .map((k) => JSON.stringify(k.slice(0, 120)))
    .join(', ') + (keys.length > 5 ? ', …' : '');

/**
 * The relative path of every listed object below `prefix`. Keys come from the bucket and are not
 * trusted: each must be plain segments, and no key may also be another's directory. Zero-byte keys
 * ending in `/` are the folder markers that consoles create, and are skipped.
 */
export function prefixFiles(uri: string, prefix: string, objects: ListedObject[]): PrefixFile[] {
  const files: PrefixFile[] = [];
  const bad: string[] = [];
  for (const o of objects) {
    const rel = o.key.slice(prefix.length);
    const marker = o.size === 0 && (rel === '' || (rel.endsWith('/') && isPlainRelative(rel.slice(0, -1))));
    if (o.key.startsWith(prefix) && marker) continue;
    if (o.key.startsWith(prefix) && isPlainRelative(rel)) files.push({ ...o, rel });
    else bad.push(o.key);
  }
  if (bad.length)
    throw new InputError(
      `input ${uri}: ${bad.length} object key(s) cannot be placed safely on the instance (${quoted(bad)}): keys with "..", ".", empty segments, backslashes or control characters are refused. Nothing was rented or placed; rename those objects or name a narrower prefix.`,
    );
  const names = new Set(files.map((f) => f.rel));
  const clash = files.filter((f) => f.rel.split('/').some((_, i, segs) => i > 0 && names.has(segs.slice(0, i).join('/'))));
  if (clash.length)
    throw new InputError(
      `input ${uri}: object key(s) ${quoted(clash.map((f) => f.key))} need a directory where another object is a file; they cannot all be placed. Nothing was rented or placed.`,
    );
  return files;
}

/** Maps a store's refusal to a message the user can act on; anything else is left as it is. */
function readFailure(e: unknown, uri: string): unknown {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (err.name === 'NoSuchBucket') return new InputError(`input ${uri}: the bucket does not exist. Nothing was rented.`);
  if (err.$metadata?.httpStatusCode === 403 || err.name === 'AccessDenied')
    return new InputError(`input ${uri} cannot be read with this server's S3 credentials (access denied). Nothing was rented.`);
  return e;
}

/** The prefix's objects as they are now (at most MAX_PREFIX_OBJECTS), each checked. */
export async function listPrefixFiles(client: S3Client, ref: S3InputRef): Promise<PrefixFile[]> {
  const listed = await listObjects(client, ref.bucket, listedPrefix(ref), MAX_PREFIX_OBJECTS).catch((e) => {
    throw readFailure(e, ref.uri);
  });
  if (listed.truncated)
    throw new InputError(
      `input ${ref.uri} holds more than ${MAX_PREFIX_OBJECTS} objects; a job input is placed object by object. Pack them into an archive or name a narrower prefix. Nothing was rented.`,
    );
  return prefixFiles(ref.uri, listedPrefix(ref), listed.objects);
}

/** Reads what the input is now, with this server's credentials, and returns the pin to store. */
export async function pinS3Input(client: S3Client, ref: S3InputRef): Promise<S3InputPin> {
  if (!ref.isPrefix) {
    const head = await headObject(client, ref.bucket, ref.key).catch((e) => {
      throw readFailure(e, ref.uri);
    });
    if (!head)
      throw new InputError(`input ${ref.uri} does not exist (to place every object under a prefix, end the URI with /). Nothing was rented.`);
    if (!head.etag) throw new InputError(`input ${ref.uri}: the store gives no ETag for it, so its version cannot be pinned. Nothing was rented.`);
    return { kind: 'object', etag: head.etag, size: head.size };
  }
  const files = await listPrefixFiles(client, ref);
  if (!files.length) throw new InputError(`input ${ref.uri} holds no objects. Nothing was rented.`);
  return { kind: 'prefix', digest: prefixDigest(files), objects: files.length, bytes: files.reduce((s, f) => s + f.size, 0) };
}

/** The pin of every input (null for local ones), read once at submit. */
export async function pinS3Inputs(deps: ServerDeps, spec: JobSpec): Promise<(S3InputPin | null)[]> {
  if (!spec.inputs.some((i) => i.s3_uri !== undefined)) return spec.inputs.map(() => null);
  const client = await makeS3Client(deps.config.s3);
  try {
    const pins: (S3InputPin | null)[] = [];
    for (const i of spec.inputs) pins.push(i.s3_uri === undefined ? null : await pinS3Input(client, parseInputUri(i.s3_uri)));
    return pins;
  } finally {
    client.destroy();
  }
}

/** Thrown when an input no longer is what submit pinned: no retry can fix it, so the job fails. */
export class InputChanged extends VastMcpError {
  constructor(uri: string, what: string) {
    super(
      `input ${uri} changed since the job was submitted (${what}). Nothing was placed on the instance; submit the job again to use the new version.`,
      'job_input_changed',
    );
    this.name = 'InputChanged';
  }
}
