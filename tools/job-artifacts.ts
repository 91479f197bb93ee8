import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { insideRoot } from '../server/copy/local-paths.js';
import { localSha256 } from '../server/copy/upload.js';
import { VastMcpError } from '../server/errors.js';
import { requireJob } from '../server/jobs/job-view.js';
import { jobsRuntime } from '../server/jobs/runtime.js';
import { assertJobAccess } from '../server/identity/job-access.js';
import { getToFile, makeS3Client, parseS3Uri } from '../server/copy/s3-store.js';
import type { ServerDeps } from '../server/deps.js';
import { defineTool } from './define-tool.js';

async function fromS3(deps: ServerDeps, uri: string, dest: string): Promise<string> {
  const { bucket, prefix } = parseS3Uri(uri);
  const client = await makeS3Client(deps.config.s3);
  try {
    return (await getToFile(client, bucket, prefix, dest)).sha256;
  } finally {
    client.destroy();
  }
}

const Artifact = z.object({
  remote_path: z.string(),
  location: z.string(),
  size: z.number().describe('bytes'),
  sha256: z.string(),
  attempt: z.number(),
  verified_at: z.number(),
});

export const jobArtifactsTool = defineTool({
  name: 'job_artifacts',
  title: 'Job outputs',
  description:
    "Lists a job's outputs copied off the instance and verified (size, sha256, where they are: a local path or s3://). With copy_to (a local file path inside the copy root) it also copies one output there, from the server's disk or the bucket, and checks its sha256 again. No cost.",
  access: 'write',
  input: z
    .object({
      job_id: z.string().max(64),
      remote_path: z.string().optional().describe('the output to copy (as listed); required with copy_to'),
      copy_to: z.string().optional().describe('local file path inside the copy root'),
    })
    .strict(),
  output: z.object({ job_id: z.string(), artifacts: z.array(Artifact), copied_to: z.string().nullable() }),
  async run({ job_id, remote_path, copy_to }, { deps }) {
    const { store } = jobsRuntime(deps);
    await assertJobAccess(deps, job_id, copy_to !== undefined ? 'control' : 'read');
    await requireJob(store, job_id);
    const artifacts = (await store.artifacts(job_id)).map((a) => ({
      remote_path: a.remote_path,
      location: a.destination,
      size: a.size,
      sha256: a.sha256,
      attempt: a.attempt,
      verified_at: a.verified_at,
    }));
    let copied: string | null = null;
    if (copy_to !== undefined) {
      const a = artifacts.find((x) => x.remote_path === remote_path);
      if (!a)
        throw new VastMcpError(
          `No verified output ${JSON.stringify(remote_path)} for job ${job_id}. Call job_artifacts without copy_to to list them.`,
          'invalid_input',
        );
      const dest = insideRoot(deps.config.copyRoot, copy_to, 'copy_to');
      mkdirSync(dirname(dest), { recursive: true });
      // An output verified in S3 comes back from the bucket, with this server's credentials.
      let sha: string;
      if (a.location.startsWith('s3://')) sha = await fromS3(deps, a.location, dest);
      else {
        copyFileSync(a.location, dest);
        sha = await localSha256(dest);
      }
      if (sha !== a.sha256)
        throw new VastMcpError(
          `The copy at ${dest} does not match the verified sha256 (the stored output changed since it was verified).`,
          'copy_verification_failed',
        );
      copied = dest;
    }
    const lines = artifacts.map((a) => `${a.remote_path} → ${a.location} (${a.size} bytes, sha256 ${a.sha256.slice(0, 16)}…, attempt ${a.attempt})`);
    return {
      data: { job_id, artifacts, copied_to: copied },
      text: `${artifacts.length ? lines.join('\n') : 'No verified outputs yet.'}${copied ? `\nCopied to ${copied} (sha256 checked).` : ''}`,
    };
  },
});
