import { lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { insideRoot } from '../copy/local-paths.js';
import { getToFile, isChangedOrGone } from '../copy/s3-store.js';
import type { ServerDeps } from '../deps.js';
import { VastMcpError } from '../errors.js';
import { jobCopyBase } from '../identity/job-access.js';
import { InputChanged, listPrefixFiles, parseInputUri, prefixDigest, type PrefixFile, type S3InputPin } from './s3-inputs.js';

// Its own dotted folder per job: a user's own "inputs" folder under the copy root is never touched.
const STAGE_DIR = '.job-inputs';
const PARALLEL = 4;

/** A staged S3 input: where it is below the copy root and the sha256 of every file as downloaded ("" for one object). */
export interface Staged {
  uri: string;
  localPath: string;
  files: { rel: string; size: number; sha256: string }[];
}

interface Sidecar extends Staged {
  pin: S3InputPin;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** `<copy root>/<job's base>/.job-inputs/<job>`, created one segment at a time: a link or a file on the way is refused, never followed. */
function stageRoot(deps: ServerDeps, jobId: string): string {
  const root = resolve(deps.config.copyRoot);
  const abs = insideRoot(root, join(jobCopyBase(deps, jobId), STAGE_DIR, jobId), 'input staging folder');
  let at = root;
  for (const seg of relative(root, abs).split(sep)) {
    at = join(at, seg);
    if (!lstatOrNull(at)) mkdirSync(at, { mode: 0o700, recursive: false });
    if (!lstatOrNull(at)?.isDirectory())
      throw new VastMcpError(
        `${at} is not a plain directory (a link or a file is in its place); job inputs are never staged through links.`,
        'copy_unsafe_path',
      );
  }
  return abs;
}

/** The sidecar's record when it is for this pin and every file is still a plain file of the recorded size. */
function reusable(payload: string, sidecar: string, uri: string, pin: S3InputPin): Sidecar | null {
  let rec: Sidecar;
  try {
    rec = JSON.parse(readFileSync(sidecar, 'utf8')) as Sidecar;
  } catch {
    return null;
  }
  if (rec.uri !== uri || JSON.stringify(rec.pin) !== JSON.stringify(pin) || !Array.isArray(rec.files)) return null;
  for (const f of rec.files) {
    const st = lstatOrNull(f.rel ? join(payload, ...f.rel.split('/')) : payload);
    if (!st?.isFile() || st.size !== f.size) return null;
  }
  return { ...rec, localPath: payload };
}

async function download(client: S3Client, uri: string, bucket: string, o: { key: string; etag: string; size: number }, dest: string) {
  try {
    const got = await getToFile(client, bucket, o.key, dest, { ifMatch: o.etag, exclusive: true });
    // Same version, other length: a transfer cut short, worth another try (a new version fails above).
    if (got.size !== o.size)
      throw new VastMcpError(`download of s3://${bucket}/${o.key} gave ${got.size} bytes, ${o.size} expected`, 'job_input_short');
    return got;
  } catch (e) {
    if ((e as VastMcpError).code === 's3_object_changed' || isChangedOrGone(e))
      throw new InputChanged(uri, `s3://${bucket}/${o.key} is no longer the version seen at submit`);
    throw e;
  }
}

/** Every listed object of a prefix into `dir`, PARALLEL at a time. */
async function downloadTree(client: S3Client, uri: string, bucket: string, files: PrefixFile[], dir: string): Promise<Staged['files']> {
  const out: Staged['files'] = [];
  let next = 0;
  let failed: { e: unknown } | null = null;
  const worker = async () => {
    // After one failure the others finish their current file and stop: nothing writes once the caller cleans up.
    while (failed === null && next < files.length) {
      const f = files[next++]!;
      const dest = join(dir, ...f.rel.split('/'));
      try {
        mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
        out.push({ rel: f.rel, size: f.size, sha256: (await download(client, uri, bucket, f, dest)).sha256 });
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, files.length) }, worker));
  if (failed) throw (failed as { e: unknown }).e;
  return out;
}

/**
 * Brings an S3 input to this server's disk exactly as pinned at submit (a changed input throws
 * InputChanged), or reuses the copy an earlier attempt staged when its sidecar says it is that version.
 */
export async function stageS3Input(
  deps: ServerDeps,
  client: S3Client,
  jobId: string,
  index: number,
  input: { s3_uri: string; pin?: S3InputPin },
): Promise<Staged> {
  const uri = input.s3_uri;
  const pin = input.pin;
  if (!pin) throw new VastMcpError(`input ${uri} has no version pinned at submit; submit the job again.`, 'job_input_unpinned');
  const root = stageRoot(deps, jobId);
  const payload = join(root, String(index));
  const sidecar = join(root, `${index}.json`);
  const again = reusable(payload, sidecar, uri, pin);
  if (again) return again;
  rmSync(sidecar, { force: true });
  rmSync(payload, { recursive: true, force: true });
  const ref = parseInputUri(uri);
  const tmp = mkdtempSync(join(root, `.${index}-`));
  try {
    let files: Staged['files'];
    if (pin.kind === 'object') {
      const got = await download(client, uri, ref.bucket, { key: ref.key, etag: pin.etag, size: pin.size }, join(tmp, 'data'));
      files = [{ rel: '', size: got.size, sha256: got.sha256 }];
      renameSync(join(tmp, 'data'), payload);
    } else {
      const listed = await listPrefixFiles(client, ref);
      if (prefixDigest(listed) !== pin.digest)
        throw new InputChanged(uri, `${listed.length} object(s) listed now, ${pin.objects} at submit, or some were rewritten`);
      files = await downloadTree(client, uri, ref.bucket, listed, join(tmp, 'tree'));
      renameSync(join(tmp, 'tree'), payload);
    }
    const rec: Sidecar = { uri, pin, localPath: payload, files };
    writeFileSync(join(tmp, 'sidecar'), JSON.stringify(rec), { mode: 0o600 });
    // Written last: a sidecar exists only beside a complete copy.
    renameSync(join(tmp, 'sidecar'), sidecar);
    return rec;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Drops a staged copy (it no longer matched what was placed), so the next pass downloads it again. */
export function dropStaged(s: Staged): void {
  rmSync(`${s.localPath}.json`, { force: true });
  rmSync(s.localPath, { recursive: true, force: true });
}

/** Once the job has ended nothing will be placed again: its staged inputs go (a link in their place is removed, never followed). */
export function dropJobStaging(deps: ServerDeps, jobId: string): void {
  rmSync(insideRoot(deps.config.copyRoot, join(jobCopyBase(deps, jobId), STAGE_DIR, jobId), 'input staging folder'), {
    recursive: true,
    force: true,
  });
}
