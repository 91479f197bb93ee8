import { join } from 'node:path';
import { z } from 'zod';
import { checkRemotePath } from '../copy/local-paths.js';
import { checkPrefix } from '../copy/s3-keys.js';
import { parseS3Uri } from '../copy/s3-store.js';
import { InputError } from '../errors.js';
import { assertNoSecrets } from '../safety/onstart.js';
import { parseInputUri, type S3InputPin } from './s3-inputs.js';

const RemotePath = z.string().min(2).max(512).describe('absolute path on the instance, under /workspace or /root');

/** What `job_submit` takes, fixed for the life of the job (snake_case: it is also the wire shape). */
export const JobSpecSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$/)
      .describe('job name (letters, digits, . _ -; up to 48 characters)'),
    image: z.string().min(1).max(1024).describe('Docker image'),
    command: z
      .string()
      .min(1)
      .max(8192)
      .describe('shell command the worker runs; it receives RESUME_FROM (the restored checkpoint directory, or empty)'),
    profile: z.string().optional().describe('GPU profile name from the profiles file (filters and caps)'),
    gpu_name: z.string().optional().describe('offer filter: GPU model, e.g. "RTX 4090"'),
    num_gpus: z.number().int().min(1).max(16).optional().describe('offer filter: GPUs per instance'),
    max_dph: z.number().positive().optional().describe('offer filter: maximum price, USD/hour'),
    min_reliability: z.number().min(0).max(1).optional().describe('offer filter: minimum reliability 0–1'),
    query: z.string().max(2000).optional().describe('offer filter in the official query language'),
    disk_gb: z.number().min(8).max(100000).describe('disk, GB (fixed at creation)'),
    interruptible: z.boolean().describe('true: interruptible (bid) instances, cheaper but can be outbid; false: on-demand'),
    bid_multiplier: z.number().min(1).max(10).optional().describe('interruptible only: bid = min_bid × this'),
    inputs: z
      .array(
        z
          .object({
            local_path: z.string().min(1).optional().describe('file or directory inside the copy root (give this or s3_uri)'),
            s3_uri: z
              .string()
              .max(1024)
              .optional()
              .describe(
                "s3://bucket/key for one object (placed as a file), or s3://bucket/prefix/ ending in / for every object under it (placed as a directory); read with this server's S3 credentials, never the instance's (give this or local_path)",
              ),
            remote_path: RemotePath,
          })
          .strict(),
      )
      .max(32)
      .default([])
      .describe(
        'placed on the instance (sha256-verified) before the command starts; an S3 input is pinned at submit (ETag and size) and the job fails if it changes before it is placed',
      ),
    outputs: z.array(RemotePath).min(1).max(32).describe('remote files or directories to bring back, verified, when the command ends'),
    output_dir: z.string().min(1).optional().describe('local directory inside the copy root for the outputs (give this, output_s3_uri, or both)'),
    output_s3_uri: z
      .string()
      .max(1024)
      .optional()
      .describe(
        "s3://bucket/prefix for the outputs, each object read back and verified; written with this server's S3 credentials, never the instance's (give this, output_dir, or both)",
      ),
    checkpoint_dir: RemotePath.default('/workspace/checkpoints').describe(
      'remote directory of checkpoints: one step-NNNNNN subdirectory per checkpoint, complete once its manifest file exists',
    ),
    checkpoint_sync_seconds: z.number().min(10).max(86400).default(600).describe('how often new checkpoints are copied off the instance, seconds'),
    max_cost_usd: z.number().positive().describe("hard cap on the job's total spend (GPU, disk, bandwidth), USD"),
    max_hours: z
      .number()
      .positive()
      .max(24 * 30)
      .default(24)
      .describe('planned running time, hours (used for the projection)'),
    max_recoveries: z.number().int().min(0).max(20).default(3).describe('replacement instances allowed after preemption or failure'),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(4096))
      .default({})
      .describe('environment variables for the command (never put credentials here that the instance must not hold)'),
    on_end: z
      .enum(['destroy', 'stop', 'keep'])
      .default('destroy')
      .describe(
        'destroy: destroy instances once every output is copied and verified (needs the standing teardown approval); stop: stop them (disk still bills); keep: leave running',
      ),
    grace_seconds: z.number().int().min(1).max(600).default(30).describe('time between SIGTERM and SIGKILL on cancel or budget stop, seconds'),
  })
  .strict();

export type JobSpec = z.infer<typeof JobSpecSchema>;

/** An input as stored with the job: an S3 input carries the pin read at submit (users cannot set it: the schema is strict). */
export type JobInput = JobSpec['inputs'][number] & { pin?: S3InputPin };

/** The spec to store: each S3 input with the version submit saw. */
export function withPins(spec: JobSpec, pins: (S3InputPin | null)[]): JobSpec {
  return { ...spec, inputs: spec.inputs.map((i, n): JobInput => (pins[n] ? { ...i, pin: pins[n] } : i)) };
}

/** Checks what the schema cannot: remote paths, and no secret reaching the instance's env or command. */
export function validateSpec(spec: JobSpec, isKnownSecret: (text: string) => boolean): void {
  for (const p of [...spec.outputs, spec.checkpoint_dir, ...spec.inputs.map((i) => i.remote_path)]) checkRemotePath(p);
  if (spec.output_dir === undefined && spec.output_s3_uri === undefined)
    throw new InputError(
      'Say where the outputs go: output_dir (a local directory inside the copy root), output_s3_uri (s3://bucket/prefix), or both.',
    );
  if (spec.output_s3_uri !== undefined) checkPrefix(parseS3Uri(spec.output_s3_uri).prefix);
  for (const [n, i] of spec.inputs.entries()) {
    if ((i.local_path === undefined) === (i.s3_uri === undefined))
      throw new InputError(`inputs[${n}] (remote_path ${i.remote_path}) must give exactly one of local_path or s3_uri.`);
    if (i.s3_uri !== undefined) parseInputUri(i.s3_uri);
  }
  assertNoSecrets(spec.command, isKnownSecret);
  for (const [k, v] of Object.entries(spec.env)) {
    if (isKnownSecret(v)) throw new InputError(`env ${k} holds your Vast API key: the instance must never hold it.`);
    if (/^(VAST_API_KEY|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN)$/.test(k))
      throw new InputError(`env ${k} is a credential of this server; jobs never put account or storage credentials on instances.`);
  }
  if (spec.interruptible === false && spec.bid_multiplier !== undefined) throw new InputError('bid_multiplier applies only to interruptible jobs.');
}

/** The job's own local files (checkpoints) in the state directory. */
export function jobDir(stateDir: string, jobId: string): string {
  return join(stateDir, 'jobs', jobId);
}
