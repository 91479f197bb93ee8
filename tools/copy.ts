import { z } from 'zod';
import { runCopy } from '../server/copy/run-copy.js';
import { defineTool } from './define-tool.js';
import { InstanceIdInput } from './lifecycle-common.js';
import { assertS3Access } from '../server/identity/s3-access.js';

const output = z.object({
  instance_id: z.number(),
  direction: z.enum(['instance_to_local', 'local_to_instance', 'instance_to_s3']),
  endpoint: z.enum(['direct', 'proxy']),
  files: z.array(
    z.object({
      source: z.string(),
      destination: z.string(),
      size: z.number().describe('bytes'),
      sha256: z.string(),
      resumed_from: z.number().describe('bytes already there from an interrupted copy'),
      attempts: z.number(),
    }),
  ),
  bytes: z.number(),
  seconds: z.number(),
  mb_per_s: z.number(),
  warnings: z.array(z.string()),
  manifest: z.string().nullable().describe('Local manifest file for directory copies'),
  recorded_in_ledger: z
    .number()
    .describe('Verified copies recorded for the destroy gate (a directory is one record, written only when every file in it verified)'),
  skipped: z
    .array(z.object({ path: z.string(), reason: z.string() }))
    .describe('Symbolic links and special files that were not copied (links are never followed)'),
});

export const copyTool = defineTool({
  name: 'copy',
  title: 'Copy files, verified',
  description:
    'Copy files or whole directories between an instance and this machine, or from an instance to an S3-compatible bucket, with end-to-end verification: ' +
    'sha256 is computed on the instance and on the receiving side (for S3, by reading the stored object back); a mismatch is an error and nothing is recorded. ' +
    "Local files appear only after verification (written to a partial name, fsync'd, renamed); an interrupted copy resumes from what was verified. " +
    'Directories travel as one stream and are recorded as a whole only when every file verified; a failed or partial copy records nothing. ' +
    'Symbolic links are never followed on either side (they are listed as skipped). ' +
    'Copies off the instance (instance_to_local, instance_to_s3) are recorded in the ledger that destroy checks. Local paths are confined to the copy root. ' +
    'Uses the direct SSH endpoint when there is one (the proxy is throttled). Bandwidth is billed by the host both ways.',
  access: 'write',
  input: z
    .object({
      instance_id: InstanceIdInput,
      direction: z.enum(['instance_to_local', 'local_to_instance', 'instance_to_s3']).describe('Which way to copy'),
      remote_path: z.string().min(1).max(4096).describe('Absolute path on the instance under /workspace or /root (file or directory)'),
      local_path: z.string().min(1).max(4096).optional().describe('Local file or directory, relative to (or inside) the copy root'),
      s3_uri: z.string().min(6).max(2048).optional().describe('Destination for instance_to_s3: s3://bucket/prefix'),
      prefer_proxy: z.boolean().optional().describe('Use the throttled SSH proxy even when a direct endpoint exists (for comparison)'),
      method: z
        .enum(['stream', 'cloud'])
        .optional()
        .describe(
          'instance_to_s3: "stream" through this server (default) or "cloud": the platform\'s own cloud copy from the host, verified the same way',
        ),
      connection_id: z.number().int().positive().optional().describe('Cloud connection id on the Vast account (for method "cloud")'),
    })
    .strict(),
  output,
  async run(args, ctx) {
    const { deps } = ctx;
    if (args.direction === 'instance_to_s3' && args.s3_uri !== undefined) assertS3Access(deps, args.s3_uri, 's3_uri');
    let lastSent = 0;
    const report = await runCopy(
      deps,
      {
        instanceId: args.instance_id,
        direction: args.direction,
        remotePath: args.remote_path,
        localPath: args.local_path,
        s3Uri: args.s3_uri,
        preferProxy: args.prefer_proxy,
        method: args.method,
        connectionId: args.connection_id,
        signal: ctx.extra.signal,
      },
      async (done, total, message) => {
        const now = deps.monotonicMs();
        if (now - lastSent < 250 && done < total) return;
        lastSent = now;
        await ctx.progress(done, total, `${(done / 1e6).toFixed(1)} / ${(total / 1e6).toFixed(1)} MB: ${message}`).catch(() => undefined);
      },
    );
    deps.audit.record({
      tool: 'copy',
      action: args.direction,
      args,
      result: 'ok',
      instance_id: args.instance_id,
      detail: { files: report.files.length, bytes: report.bytes, recorded: report.recorded_in_ledger },
    });
    const lines = report.files
      .slice(0, 20)
      .map(
        (f) =>
          `  ${f.source} → ${f.destination} (${f.size} bytes, sha256 ${f.sha256.slice(0, 16)}…${f.resumed_from ? `, resumed at ${f.resumed_from}` : ''})`,
      );
    const more = report.files.length > 20 ? `\n  … and ${report.files.length - 20} more` : '';
    return {
      data: { instance_id: args.instance_id, ...report },
      text:
        `Copied and verified ${report.files.length} file(s), ${report.bytes} bytes in ${report.seconds} s (${report.mb_per_s} MB/s) over the ${report.endpoint} endpoint.` +
        `${report.recorded_in_ledger ? ` ${report.recorded_in_ledger} recorded in the ledger (destroy can now proceed with the user's approval).` : ''}\n${lines.join('\n')}${more}` +
        `${report.manifest ? `\nManifest: ${report.manifest}` : ''}${report.warnings.length ? `\nWarnings: ${report.warnings.join(' ')}` : ''}` +
        // Names come from the instance: quoted, so a name cannot forge a line of this text.
        `${
          report.skipped.length
            ? `\nNot copied: ${report.skipped
                .slice(0, 10)
                .map((x) => `${JSON.stringify(x.path)} (${x.reason})`)
                .join(', ')}${report.skipped.length > 10 ? ', …' : ''}`
            : ''
        }`,
    };
  },
});
