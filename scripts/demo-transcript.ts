import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** Prints a readable chat-ops transcript: each tool call, then the server's own summary. */
export class Transcript {
  private step = 0;

  constructor(
    private readonly client: Client,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  say(text: string): void {
    this.out.write(`\n${text}\n`);
  }

  async call(name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
    this.step++;
    this.out.write(`\n── ${this.step}. ${name} ${Object.keys(args).length ? JSON.stringify(args) : ''}\n`);
    const r = (await this.client.callTool({ name, arguments: args })) as CallToolResult;
    const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
    const prefix = r.isError ? '   ✗ ' : '   ';
    this.out.write(
      `${text
        .split('\n')
        .map((l) => prefix + l)
        .join('\n')}\n`,
    );
    return r;
  }
}
