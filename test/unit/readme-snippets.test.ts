import { existsSync, readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { cleanEnv } from '../helpers/spawn.js';

// Every setup snippet in the README's "Client setup" section must parse in its client's format and start the server.
const ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = README.slice(README.indexOf('## Client setup'), README.indexOf('\n## ', README.indexOf('## Client setup') + 3));

interface Entry {
  client: string;
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
}

const blocks = [...section.matchAll(/^### (.+)$|^```(\w+)\n([\s\S]*?)^```$/gm)].reduce<{
  heading: string;
  found: { client: string; lang: string; body: string }[];
}>(
  (acc, m) => {
    if (m[1]) acc.heading = m[1];
    else acc.found.push({ client: acc.heading, lang: m[2]!, body: m[3]! });
    return acc;
  },
  { heading: '', found: [] },
).found;

function entriesOf(block: { client: string; lang: string; body: string }): Entry[] {
  const { client, lang, body } = block;
  if (lang === 'sh') {
    return body
      .split('\n')
      .filter((l) => l.startsWith('claude mcp add '))
      .map((l) => {
        const [head, cmd] = l.split(' -- ');
        const words = cmd!.trim().split(/\s+/);
        return { client, name: head!.split(/\s+/)[3]!, command: words[0]!, args: words.slice(1), env: {} };
      });
  }
  const doc = (lang === 'toml' ? parseToml(body) : JSON.parse(body)) as Record<string, Record<string, Record<string, unknown>>>;
  const servers = doc.mcp_servers ?? doc.mcpServers ?? doc.servers ?? {};
  return Object.entries(servers).map(([name, s]) => ({
    client,
    name,
    command: s.command as string,
    args: s.args as string[],
    env: (s.env ?? {}) as Record<string, string>,
  }));
}

const entries = blocks.flatMap(entriesOf);
const real = (args: string[]) => args.map((a) => a.replace('/path/to/vast-mcp', ROOT));

describe('README client setup snippets', () => {
  it('cover every client, each with a real-account entry and a sandbox entry', () => {
    const clients = ['Claude Code', 'Claude Desktop', 'Codex', 'Gemini CLI', 'Cursor', 'VS Code'];
    expect([...new Set(entries.map((e) => e.client))].sort()).toEqual([...clients].sort());
    for (const client of clients) {
      const mine = entries.filter((e) => e.client === client);
      expect(
        mine.some((e) => e.args.includes('--sandbox')),
        client,
      ).toBe(true);
      expect(
        mine.some((e) => !e.args.includes('--sandbox')),
        client,
      ).toBe(true);
    }
  });

  it('point at the built entry point and hold no literal API key', () => {
    for (const e of entries) {
      expect(e.command, e.name).toBe('node');
      expect(existsSync(real(e.args)[0]!), e.args[0]).toBe(true);
      for (const v of Object.values(e.env)) expect(v, `${e.client} ${e.name}`).toMatch(/^\$\{input:[\w-]+\}$/);
    }
  });

  it('use the shapes each client requires (VS Code: servers, type stdio, a password input; Codex: tool_timeout_sec)', () => {
    const vscode = JSON.parse(blocks.find((b) => b.client === 'VS Code')!.body);
    expect(vscode.mcpServers).toBeUndefined();
    for (const s of Object.values(vscode.servers) as Record<string, unknown>[]) expect(s.type).toBe('stdio');
    const ids = (vscode.inputs as { id: string; type: string; password: boolean }[])
      .filter((i) => i.type === 'promptString' && i.password)
      .map((i) => i.id);
    expect(
      JSON.stringify(vscode.servers)
        .match(/\$\{input:([\w-]+)\}/g)!
        .map((r) => r.slice(8, -1))
        .every((id) => ids.includes(id)),
    ).toBe(true);
    const codex = parseToml(blocks.find((b) => b.client === 'Codex')!.body) as {
      mcp_servers: Record<string, { tool_timeout_sec: number; startup_timeout_sec: number }>;
    };
    for (const s of Object.values(codex.mcp_servers)) expect(s.tool_timeout_sec).toBeGreaterThan(600);
    const gemini = JSON.parse(blocks.find((b) => b.client === 'Gemini CLI')!.body);
    for (const s of Object.values(gemini.mcpServers) as { timeout: number }[]) expect(s.timeout).toBeGreaterThan(600_000);
  });

  it.each(entries.filter((e) => e.args.includes('--sandbox')).map((e) => [e.client, e] as const))(
    '%s: the sandbox entry starts with its parsed command line and lists the tools',
    async (_client, e) => {
      const transport = new StdioClientTransport({ command: e.command, args: real(e.args), env: cleanEnv(e.env), stderr: 'pipe' });
      const client = new Client({ name: 'readme-snippet', version: '1.0.0' });
      await client.connect(transport);
      try {
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name)).toContain('create');
        expect(client.getInstructions()).toMatch(/SIMULATED|simulat/i);
      } finally {
        await client.close();
      }
    },
  );
});
