import { describe, expect, it } from 'vitest';
import { simPerTest } from '../helpers/per-test.js';

const env = simPerTest();

describe('jobs knowledge', () => {
  it('serves the jobs reference and the run-job prompt', async () => {
    const mcp = await env.connect();
    const ref = await mcp.client.readResource({ uri: 'vast-mcp://references/jobs' });
    const text = (ref.contents[0] as { text: string }).text;
    expect(text).toMatch(/max_cost_usd.*hard cap/);
    expect(text).toMatch(/manifest` file\s+\*\*last\*\*/);
    expect(text).toMatch(/standing teardown approval AND a\s+verified copy/);
    const p = await mcp.client.getPrompt({ name: 'run-job', arguments: { task: 'fine-tune', max_cost_usd: '12' } });
    const words = (p.messages[0]!.content as { text: string }).text;
    expect(words).toMatch(/proposed \$12/);
    expect(words).toMatch(/A no is final/);
    expect(words).toMatch(/RESUME_FROM/);
  });
});
