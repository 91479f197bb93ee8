import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseFaultSpec } from '../sim/faults.js';

export class UsageError extends Error {}

export interface ServeArgs {
  command: 'serve';
  apiUrl?: string;
  sandbox: boolean;
  stateDir?: string;
  logLevel?: string;
  configPath?: string;
}

export interface SimArgs {
  command: 'sim';
  port: number;
  apiKey?: string;
  seed: string;
  offers?: number;
  timeScale: number;
  faults?: string;
  rateLimits: boolean;
}

export interface JobdArgs {
  command: 'jobd';
  apiUrl?: string;
  stateDir?: string;
  logLevel?: string;
  configPath?: string;
}

export interface JobsArgs {
  command: 'jobs';
  action: 'list' | 'status' | 'logs' | 'cancel';
  jobId?: string;
  stateDir?: string;
  cursor: number;
  limit: number;
}

/** `vast-mcp serve`: the same server over Streamable HTTP (server/http). */
export interface HttpArgs extends Omit<ServeArgs, 'command'> {
  command: 'http';
  host?: string;
  port?: number;
  publicUrl?: string;
  authTokens?: string;
  oauthIssuer?: string;
  oauthJwksUrl?: string;
}

/** `vast-mcp token add|remove`: manage the hashed bearer token file. */
export interface TokenArgs {
  command: 'token';
  action: 'add' | 'remove';
  user: string;
  team?: string;
  file?: string;
}

export type CliArgs = ServeArgs | HttpArgs | TokenArgs | SimArgs | JobdArgs | JobsArgs | { command: 'help' } | { command: 'version' };

export const USAGE = `Usage:
  vast-mcp [--api-url URL] [--state-dir DIR] [--log-level LEVEL] [--config PROFILES.yaml]   serve MCP over stdio against Vast (VAST_URL, VAST_API_KEY)
  vast-mcp --sandbox                                               serve MCP over stdio against an in-process simulator (no account, no money)
  vast-mcp serve [--host H] [--port P] [--public-url URL] [--auth-tokens FILE] [--oauth-issuer URL] [--oauth-jwks-url URL]
               [--sandbox] [--api-url URL] [--state-dir DIR] [--log-level LEVEL] [--config PROFILES.yaml]
                                                                   serve MCP over Streamable HTTP at /mcp (loopback unless authentication is set)
  vast-mcp token add --user U [--team T] [--file FILE] | token remove --user U [--file FILE]
                                                                   add a bearer token (printed once; only its hash is stored) or remove a user's tokens
  vast-mcp sim [--port N] [--api-key KEY] [--seed S] [--offers N] [--time-scale X] [--faults 429:0.05,503:0.02,drop_create:0.01,latency:0.05] [--rate-limits]
                                                                   run the Vast-compatible simulator on 127.0.0.1
  vast-mcp jobd [--api-url URL] [--state-dir DIR] [--log-level LEVEL] [--config PROFILES.yaml]
                                                                   run the jobs supervisor (one per account and state directory; started by the server)
  vast-mcp jobs list|status ID|logs ID [--cursor N] [--limit N]|cancel ID [--state-dir DIR]
                                                                   the jobs, for a person at a terminal
  vast-mcp --help | --version`;

function checkFaults(spec: string | undefined): string | undefined {
  if (spec === undefined) return undefined;
  try {
    parseFaultSpec(spec);
  } catch (e) {
    throw new UsageError(`--faults: ${(e as Error).message}`);
  }
  return spec;
}

function wholeNumber(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

function parse(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
): Record<string, string | boolean | (string | boolean)[] | undefined> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]} (see vast-mcp --help)`);
  }
}

/** Parses the command line; a bad flag is a UsageError with one clear line. */
export function parseCliArgs(argv: string[]): CliArgs {
  if (argv[0] === 'sim') {
    const v = parse(argv.slice(1), {
      port: { type: 'string' },
      'api-key': { type: 'string' },
      seed: { type: 'string' },
      offers: { type: 'string' },
      'time-scale': { type: 'string' },
      faults: { type: 'string' },
      'rate-limits': { type: 'boolean' },
    });
    const timeScaleText = v['time-scale'] as string | undefined;
    const timeScale = timeScaleText === undefined ? 1 : Number(timeScaleText);
    if (!Number.isFinite(timeScale) || timeScale <= 0 || timeScale > 100000)
      throw new UsageError(`--time-scale must be a number above 0 (1 = real time), got ${JSON.stringify(timeScaleText)}`);
    const apiKey = v['api-key'] as string | undefined;
    if (apiKey !== undefined && apiKey.trim().length < 8) throw new UsageError('--api-key must be at least 8 characters');
    return {
      command: 'sim',
      port: wholeNumber('port', v.port as string | undefined, 0, 65535) ?? 0,
      apiKey,
      seed: (v.seed as string | undefined) ?? '1',
      offers: wholeNumber('offers', v.offers as string | undefined, 1, 100000),
      timeScale,
      faults: checkFaults(v.faults as string | undefined),
      rateLimits: Boolean(v['rate-limits']),
    };
  }
  if (argv[0] === 'jobd') {
    const v = parse(argv.slice(1), {
      'api-url': { type: 'string' },
      'state-dir': { type: 'string' },
      'log-level': { type: 'string' },
      config: { type: 'string' },
    });
    return {
      command: 'jobd',
      apiUrl: v['api-url'] as string | undefined,
      stateDir: v['state-dir'] as string | undefined,
      logLevel: v['log-level'] as string | undefined,
      configPath: v.config as string | undefined,
    };
  }
  if (argv[0] === 'jobs') {
    const action = argv[1];
    if (action !== 'list' && action !== 'status' && action !== 'logs' && action !== 'cancel')
      throw new UsageError('jobs needs one of: list, status ID, logs ID, cancel ID (see vast-mcp --help)');
    const hasId = argv[2] !== undefined && !argv[2].startsWith('-');
    const jobId = hasId ? argv[2] : undefined;
    if (action !== 'list' && !jobId) throw new UsageError(`jobs ${action} needs a job id`);
    const v = parse(argv.slice(hasId ? 3 : 2), { 'state-dir': { type: 'string' }, cursor: { type: 'string' }, limit: { type: 'string' } });
    return {
      command: 'jobs',
      action,
      jobId,
      stateDir: v['state-dir'] as string | undefined,
      cursor: wholeNumber('cursor', v.cursor as string | undefined, 0, Number.MAX_SAFE_INTEGER) ?? 0,
      limit: wholeNumber('limit', v.limit as string | undefined, 1, 100000) ?? 200,
    };
  }
  if (argv[0] === 'token') {
    const action = argv[1];
    if (action !== 'add' && action !== 'remove') throw new UsageError('token needs add or remove (see vast-mcp --help)');
    const v = parse(argv.slice(2), { user: { type: 'string' }, team: { type: 'string' }, file: { type: 'string' } });
    const user = v.user as string | undefined;
    if (!user) throw new UsageError(`token ${action} needs --user NAME`);
    return { command: 'token', action, user, team: v.team as string | undefined, file: v.file as string | undefined };
  }
  if (argv[0] === 'serve') {
    const v = parse(argv.slice(1), {
      ...STDIO_FLAGS,
      host: { type: 'string' },
      port: { type: 'string' },
      'public-url': { type: 'string' },
      'auth-tokens': { type: 'string' },
      'oauth-issuer': { type: 'string' },
      'oauth-jwks-url': { type: 'string' },
    });
    return {
      ...common(v),
      command: 'http',
      host: v.host as string | undefined,
      port: wholeNumber('port', v.port as string | undefined, 0, 65535),
      publicUrl: v['public-url'] as string | undefined,
      authTokens: v['auth-tokens'] as string | undefined,
      oauthIssuer: v['oauth-issuer'] as string | undefined,
      oauthJwksUrl: v['oauth-jwks-url'] as string | undefined,
    };
  }
  if (argv.length > 0 && !argv[0]!.startsWith('-')) throw new UsageError(`Unknown command ${JSON.stringify(argv[0])} (see vast-mcp --help)`);
  const v = parse(argv, { ...STDIO_FLAGS, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } });
  if (v.help) return { command: 'help' };
  if (v.version) return { command: 'version' };
  return common(v);
}

const STDIO_FLAGS: NonNullable<ParseArgsConfig['options']> = {
  'api-url': { type: 'string' },
  sandbox: { type: 'boolean' },
  'state-dir': { type: 'string' },
  'log-level': { type: 'string' },
  config: { type: 'string' },
};

/** The flags the stdio server and `serve` share. */
function common(v: ReturnType<typeof parse>): ServeArgs {
  const apiUrl = v['api-url'] as string | undefined;
  if (apiUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(apiUrl))
    throw new UsageError(`--api-url must be an http(s) URL, got ${JSON.stringify(apiUrl)}`);
  const logLevel = v['log-level'] as string | undefined;
  if (logLevel !== undefined && !['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel))
    throw new UsageError(`--log-level must be one of fatal, error, warn, info, debug, trace, silent`);
  return {
    command: 'serve',
    apiUrl,
    sandbox: Boolean(v.sandbox),
    stateDir: v['state-dir'] as string | undefined,
    logLevel,
    configPath: v.config as string | undefined,
  };
}
