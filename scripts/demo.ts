import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema, type CallToolResult, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { startSimulator } from '../sim/server.js';
import { Transcript } from './demo-transcript.js';
import { startDemoS3 } from './demo-s3.js';
import { DEMO_JOB_ENV, demoJob } from './demo-job.js';

/**
 * `npm run demo`: the main job against the embedded simulator. Starts the simulator, spawns the
 * built server over stdio, and drives it with a real MCP client, printing what happens.
 */
async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const key = `demo-${randomBytes(12).toString('hex')}`;
  // Simulated time runs 120× faster so the image pull takes seconds, not minutes.
  const sim = await startSimulator({ apiKey: key, seed: 'demo', timeScale: 120 });
  const home = mkdtempSync(join(tmpdir(), 'vast-mcp-demo-'));
  const s3 = await startDemoS3();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [fileURLToPath(new URL('../server/main.js', import.meta.url))],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      VAST_URL: sim.url,
      VAST_API_KEY: key,
      VAST_MCP_STATE_DIR: join(home, 'state'),
      VAST_MCP_LOG_LEVEL: 'warn',
      VAST_MCP_COPY_ROOT: join(home, 'results'),
      ...(s3?.env ?? {}),
      ...DEMO_JOB_ENV,
    },
    stderr: 'inherit',
  });
  const client = new Client({ name: 'vast-mcp-demo', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  // The demo's "user" answers each form the server shows; the answers are scripted below.
  const answers: { say: string; result: ElicitResult }[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    const next = answers.shift() ?? { say: 'No.', result: { action: 'decline' } };
    process.stdout.write(
      `\n   ┌ the server asks the user:\n${req.params.message
        .split('\n')
        .map((l) => `   │ ${l}`)
        .join('\n')}\n   └ user: ${next.say}\n`,
    );
    return next.result;
  });
  await client.connect(transport);
  const t = new Transcript(client);
  const data = (r: CallToolResult) => r.structuredContent as Record<string, any>;
  try {
    t.say(`vast-mcp demo — simulator at ${sim.url} (a Vast-compatible stand-in: no real account, no money)`);
    const { tools } = await client.listTools();
    t.say(`Tools: ${tools.map((x) => x.name).join(', ')}`);
    // VAST_MCP_DEMO_ONLY=job runs only the job part (its e2e test); the rest is the instance walk-through.
    if (process.env.VAST_MCP_DEMO_ONLY !== 'job') {
      t.say('The user asks: "Find me a cheap RTX 4090 in the US or Canada, reliable, for about 8 hours."');
      await t.call('offers', { gpu_name: 'RTX 4090', geolocation: ['US', 'CA'], min_reliability: 0.95, hours: 8, limit: 5 });
      await t.call('offers', { query: 'num_gpus>=4 gpu_ram>=40 reliability>0.98', sort: 'value', limit: 3, hours: 8 });

      t.say('The user: "Rent the cheapest one with the default image, and wait until it runs."');
      answers.push({ say: 'Yes, rent it.', result: { action: 'accept', content: { confirm: true } } });
      const created = await t.call('create', {
        gpu_name: 'RTX 4090',
        geolocation: ['US', 'CA'],
        min_reliability: 0.95,
        hours: 8,
        wait: true,
        wait_timeout_seconds: 300,
      });
      const id = data(created).instances?.[0]?.instance_id as number | undefined;
      if (!id) throw new Error('create did not rent an instance');
      await t.call('status', { instance_id: id });

      await t.call('ssh', { instance_id: id, command: 'nvidia-smi -L' });

      t.say('The agent "trains" and writes a checkpoint on the instance:');
      await t.call('ssh', {
        instance_id: id,
        command:
          'mkdir -p /workspace/run && head -c 20000000 /dev/urandom > /workspace/run/model-step-1000.pt && echo "step=1000 loss=0.042" > /workspace/run/metrics.txt && ls -l /workspace/run',
      });

      t.say('The user: "Pause it for lunch." (stop keeps the disk, which keeps billing)');
      await t.call('stop', { instance_id: id });
      answers.push({ say: 'Yes, start it again.', result: { action: 'accept', content: { confirm: true } } });
      await t.call('start', { instance_id: id });
      sim.world.clock.advance(120);
      await t.call('status', { instance_id: id });

      t.say('The user: "Done — destroy it." The results are not copied off yet, so the server refuses even with approval:');
      answers.push({ say: 'Approve (I did not tick "discard").', result: { action: 'accept', content: { approve: true, discard: false } } });
      await t.call('destroy', { instance_id: id });

      t.say('The agent copies the results off, verified at both ends:');
      await t.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/run', local_path: `run-${id}` });
      if (s3)
        await t.call('copy', {
          instance_id: id,
          direction: 'instance_to_s3',
          remote_path: '/workspace/run/model-step-1000.pt',
          s3_uri: `s3://demo-artifacts/run-${id}`,
        });

      t.say("Now destroy is allowed, with the user's approval:");
      answers.push({ say: 'Approve.', result: { action: 'accept', content: { approve: true } } });
      await t.call('destroy', { instance_id: id });
      await t.call('status');
      await t.call('billing');
    }
    await demoJob({ client, t, sim, answers });
    t.say('Demo finished.');
    t.say(`Local copies are in ${join(home, 'results')}; the ledger and audit log in ${join(home, 'state')}.`);
  } finally {
    await client.close();
    await sim.close();
    await s3?.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
