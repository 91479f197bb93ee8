#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { parseCliArgs, UsageError, USAGE, type HttpArgs, type ServeArgs, type SimArgs, type TokenArgs } from './cli-args.js';
import { VastMcpError } from './errors.js';
import { setStreamingHeapFlags } from './heap-limits.js';
import { SERVER_VERSION } from './version.js';

/** The only module that exits the process. */
function fail(message: string, code: number): never {
  process.stderr.write(`vast-mcp: ${message}\n`);
  process.exit(code);
}

async function runSim(args: SimArgs): Promise<void> {
  const apiKey = args.apiKey ?? process.env.VAST_SIM_API_KEY ?? 'vast-sim-key';
  const { startSimulator } = await import('../sim/server.js');
  // Realistic by default (rate limits on); VAST_SIM_RATE_LIMITS=off or VAST_SIM_FIDELITY=lenient opt out.
  const off = /^(off|0|false|no)$/i.test(process.env.VAST_SIM_RATE_LIMITS ?? '');
  const fidelity = process.env.VAST_SIM_FIDELITY === 'lenient' ? 'lenient' : 'realistic';
  const sim = await startSimulator({
    port: args.port,
    apiKey,
    seed: args.seed,
    offers: args.offers,
    timeScale: args.timeScale,
    faults: args.faults,
    rateLimits: args.rateLimits ? true : off ? false : undefined,
    fidelity,
  });
  const stop = () => void sim.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(`listening on ${sim.url}\n`);
}

/** Config, logger and (with --sandbox) the in-process simulator, shared by the stdio and HTTP servers. */
async function prepare(args: ServeArgs | HttpArgs) {
  // The AWS SDK warns on stderr that releases after January 2027 need Node 22; the locked version works on 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Loaded here, after main() has set the heap flags: the server's modules are most of what start-up allocates.
  const [{ buildDeps }, { loadConfig }, { createLogger }, { SecretRegistry }, { sandboxStateDir }] = await Promise.all([
    import('./build-deps.js'),
    import('./config.js'),
    import('./logger.js'),
    import('./secrets.js'),
    import('./state/state-dir.js'),
  ]);
  const secrets = new SecretRegistry();
  const { config, warnings } = loadConfig(args, process.env);
  const logger = createLogger(config.logLevel, secrets);
  for (const w of warnings) logger.warn(w);
  let now: (() => number) | undefined;
  let closeSim: (() => Promise<void>) | null = null;
  if (args.sandbox) {
    const key = `sandbox-${randomBytes(16).toString('hex')}`;
    const { startSimulator } = await import('../sim/server.js');
    const sim = await startSimulator({ port: 0, apiKey: key, seed: process.env.VAST_SIM_SEED ?? '1', timeScale: 30 });
    config.apiUrl = sim.url;
    config.apiKey = key;
    config.apiKeySource = 'sandbox';
    config.simulated = true;
    // Sandbox records live apart from the real ones, new per run (the simulator's ids start over).
    config.stateDir = sandboxStateDir(config.stateDir, `${Date.now()}-${process.pid}`);
    now = () => sim.world.now();
    closeSim = sim.close;
    logger.info({ url: sim.url }, 'sandbox simulator started');
  } else if (!config.apiKey) {
    logger.warn('No Vast API key: set VAST_API_KEY or ~/.config/vastai/vast_api_key. Tools will explain this when called.');
  }
  return { config, logger, deps: buildDeps(config, logger, secrets, now), closeSim };
}

async function runServe(args: ServeArgs): Promise<void> {
  const { config, logger, deps, closeSim } = await prepare(args);
  const [{ createServer }, { StdioServerTransport }] = await Promise.all([
    import('./create-server.js'),
    import('@modelcontextprotocol/sdk/server/stdio.js'),
  ]);
  const server = createServer(deps);
  const transport = new StdioServerTransport();
  transport.onclose = () => {
    void (closeSim?.() ?? Promise.resolve()).then(() => process.exit(0));
  };
  process.stdin.on('end', () => void server.close());
  await server.connect(transport);
  logger.info({ apiUrl: config.apiUrl, keySource: config.apiKeySource, simulated: config.simulated }, 'vast-mcp serving on stdio');
}

async function runHttp(args: HttpArgs): Promise<void> {
  const { httpOptionsFrom } = await import('./http/http-options.js');
  const opts = httpOptionsFrom(args, process.env); // refuses a non-loopback bind without authentication
  const { config, logger, deps, closeSim } = await prepare(args);
  const { serveHttp } = await import('./http/serve-http.js');
  const http = await serveHttp(deps, opts);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down: finishing calls in flight (jobs keep running in jobd)');
    void http
      .close()
      .then(() => closeSim?.())
      .then(() => process.exit(0));
  };
  // Handlers first: whoever reads the `listening` line may signal at once (a signal with no handler kills the process).
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`listening on ${http.url}\n`);
  logger.info({ url: http.url, apiUrl: config.apiUrl, simulated: config.simulated, auth: Object.keys(opts.auth) }, 'vast-mcp serving on HTTP');
}

async function runToken(args: TokenArgs): Promise<void> {
  const file = args.file ?? process.env.VAST_MCP_AUTH_TOKENS;
  if (!file) fail('token needs --file FILE (or VAST_MCP_AUTH_TOKENS)', 2);
  const { addToken, removeTokens } = await import('./auth/token-cli.js');
  if (args.action === 'remove') {
    const n = removeTokens(file, args.user);
    process.stderr.write(`removed ${n} token(s) of ${args.user} from ${file}\n`);
    return;
  }
  const token = addToken(file, args.user, args.team);
  process.stderr.write(`added a token for ${args.user} to ${file}; it is shown once, below:\n`);
  process.stdout.write(`${token}\n`);
}

async function main(): Promise<void> {
  try {
    setStreamingHeapFlags(); // before any work allocates: server/heap-limits.ts says why
  } catch (e) {
    fail((e as Error).message, 2);
  }
  let args: ReturnType<typeof parseCliArgs>;
  try {
    args = parseCliArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) fail(e.message, 2);
    throw e;
  }
  if (args.command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args.command === 'version') {
    process.stdout.write(`${SERVER_VERSION}\n`);
    return;
  }
  if (args.command === 'sim') return runSim(args);
  if (args.command === 'http') return runHttp(args);
  if (args.command === 'token') return runToken(args);
  if (args.command === 'jobd' || args.command === 'jobs') {
    const { runJobd, runJobsCommand } = await import('./jobs/cli.js');
    const out = (s: string) => void process.stdout.write(s);
    if (args.command === 'jobd') return runJobd(args, out);
    return runJobsCommand(args, out);
  }
  return runServe(args);
}

main().catch((e: unknown) => {
  if (e instanceof VastMcpError) fail(e.message, 1);
  fail(`fatal: ${(e as Error)?.message ?? String(e)}`, 1);
});
