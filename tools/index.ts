import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ServerDeps } from '../server/deps.js';
import type { ToolDefinition } from './define-tool.js';
import { billingTool } from './billing.js';
import { offersTool } from './offers.js';
import { registerTool } from './register.js';
import { statusTool } from './status.js';
import { createTool } from './create.js';
import { startTool } from './start.js';
import { stopTool } from './stop.js';
import { rebootTool } from './reboot.js';
import { labelTool } from './label.js';
import { bidTool } from './bid.js';
import { logsTool } from './logs.js';
import { destroyTool } from './destroy.js';
import { sshTool } from './ssh.js';
import { copyTool } from './copy.js';
import { jobSubmitTool } from './job-submit.js';
import { jobStatusTool } from './job-status.js';
import { jobLogsTool } from './job-logs.js';
import { jobArtifactsTool } from './job-artifacts.js';
import { jobCancelTool } from './job-cancel.js';

/** Every tool the server exposes, in the order clients list them. */
export function allTools(): ToolDefinition[] {
  return [
    offersTool,
    statusTool,
    billingTool,
    logsTool,
    sshTool,
    copyTool,
    createTool,
    startTool,
    stopTool,
    rebootTool,
    labelTool,
    bidTool,
    destroyTool,
    jobSubmitTool,
    jobStatusTool,
    jobLogsTool,
    jobArtifactsTool,
    jobCancelTool,
  ] as unknown as ToolDefinition[];
}

export function registerTools(server: McpServer, deps: ServerDeps): void {
  for (const tool of allTools()) registerTool(server, deps, tool);
}
