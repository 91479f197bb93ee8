import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { cleanEnv, MAIN } from '../helpers/spawn.js';

describe('--sandbox state', () => {
  it('keeps its records in a per-run directory apart from the real state, owner-only', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'vast-mcp-real-state-'));
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [MAIN, '--sandbox'],
      env: cleanEnv({ VAST_MCP_STATE_DIR: stateDir }),
      stderr: 'pipe',
    });
    const client = new Client({ name: 'sandbox-state', version: '1' });
    await client.connect(transport);
    try {
      const r = await client.callTool({ name: 'offers', arguments: { limit: 1 } });
      expect(r.isError).toBeFalsy();
      expect(readdirSync(stateDir)).toEqual(['sandbox']);
      const runs = readdirSync(join(stateDir, 'sandbox'));
      expect(runs).toHaveLength(1);
      expect(statSync(join(stateDir, 'sandbox', runs[0]!)).mode & 0o777).toBe(0o700);
    } finally {
      await client.close();
    }
  }, 60_000);
});
