import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startSimulator } from '../sim/server.js';
import { Transcript } from './demo-transcript.js';

/**
 * `npm run demo`: the main job against the embedded simulator. Starts the simulator, spawns the
 * built server over stdio, and drives it with a real MCP client, printing what happens.
 */
async function main(): Promise<void> {
  const key = `demo-${randomBytes(12).toString('hex')}`;
  const sim = await startSimulator({ apiKey: key, seed: 'demo', timeScale: 1 });
  const home = mkdtempSync(join(tmpdir(), 'vast-mcp-demo-'));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [fileURLToPath(new URL('../server/main.js', import.meta.url))],
    env: { PATH: process.env.PATH ?? '', HOME: home, VAST_URL: sim.url, VAST_API_KEY: key, VAST_MCP_STATE_DIR: join(home, 'state'), VAST_MCP_LOG_LEVEL: 'warn' },
    stderr: 'inherit',
  });
  const client = new Client({ name: 'vast-mcp-demo', version: '1.0.0' });
  await client.connect(transport);
  const t = new Transcript(client);
  try {
    t.say(`vast-mcp demo — simulator at ${sim.url} (a Vast-compatible stand-in: no real account, no money)`);
    const { tools } = await client.listTools();
    t.say(`Tools: ${tools.map((x) => x.name).join(', ')}`);
    t.say('The user asks: "Find me a cheap RTX 4090 in the US or Canada, reliable, for about 8 hours."');
    await t.call('offers', { gpu_name: 'RTX 4090', geolocation: ['US', 'CA'], min_reliability: 0.95, hours: 8, limit: 5 });
    await t.call('offers', { query: 'num_gpus>=4 gpu_ram>=40 reliability>0.98', sort: 'value', limit: 3, hours: 8 });
    await t.call('status');
    await t.call('billing');
    t.say('Demo finished.');
  } finally {
    await client.close();
    await sim.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
