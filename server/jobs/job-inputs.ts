import { relative, resolve, sep } from 'node:path';
import { makeS3Client } from '../copy/s3-store.js';
import { runCopy, type CopyReport } from '../copy/run-copy.js';
import { VastMcpError } from '../errors.js';
import { jobCopyBase } from '../identity/job-access.js';
import type { JobCtx } from './job-context.js';
import type { JobInput } from './job-spec.js';
import { dropStaged, stageS3Input, type Staged } from './input-staging.js';

const noProgress = async () => {};

/** The bytes placed are the bytes downloaded: every file the upload hashed matches the sha256 taken while it came from S3. */
function checkPlaced(s: Staged, report: CopyReport): void {
  const want = new Map(s.files.map((f) => [f.rel, f.sha256]));
  const got = report.files.map((f) => [relative(s.localPath, f.source).split(sep).join('/'), f.sha256] as const);
  if (got.length !== want.size || got.some(([rel, sha]) => want.get(rel) !== sha)) {
    dropStaged(s);
    throw new VastMcpError(
      `the staged copy of input ${s.uri} changed on this server's disk before it was placed; it is downloaded again on the next try.`,
      'job_input_staging_changed',
    );
  }
}

/**
 * Every input onto the instance, each copy verified by sha256 at both ends. S3 inputs are staged and
 * checked against their pins first, so an input that changed since submit fails before anything is placed.
 */
export async function placeInputs(ctx: JobCtx, instanceId: number): Promise<void> {
  const inputs = ctx.spec.inputs as JobInput[];
  const staged = new Map<number, Staged>();
  if (inputs.some((i) => i.s3_uri !== undefined)) {
    // This server's credentials; the instance never holds them and only ever receives the bytes.
    const client = await makeS3Client(ctx.deps.config.s3);
    try {
      for (const [n, input] of inputs.entries())
        if (input.s3_uri !== undefined) staged.set(n, await stageS3Input(ctx.deps, client, ctx.job.id, n, { s3_uri: input.s3_uri, pin: input.pin }));
    } finally {
      client.destroy();
    }
  }
  for (const [n, input] of inputs.entries()) {
    const s = staged.get(n);
    if (!s && input.local_path === undefined) throw new VastMcpError(`inputs[${n}] gives neither local_path nor s3_uri.`, 'invalid_input');
    // A local input as checked at submit: inside the submitter's folder (an absolute path stays as given).
    const localPath = s ? s.localPath : resolve(ctx.deps.config.copyRoot, jobCopyBase(ctx.deps, ctx.job.id), input.local_path!);
    const report = await runCopy(ctx.deps, { instanceId, direction: 'local_to_instance', localPath, remotePath: input.remote_path }, noProgress);
    if (s) checkPlaced(s, report);
  }
}
