import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCliArgs, UsageError } from '../../server/cli-args.js';
import { loadConfig, resolveApiKey } from '../../server/config.js';

describe('command line', () => {
  it('serves stdio by default and reads flags', () => {
    expect(parseCliArgs([])).toEqual({
      command: 'serve',
      apiUrl: undefined,
      sandbox: false,
      stateDir: undefined,
      logLevel: undefined,
      configPath: undefined,
    });
    expect(parseCliArgs(['--api-url', 'http://127.0.0.1:9', '--sandbox'])).toMatchObject({
      command: 'serve',
      apiUrl: 'http://127.0.0.1:9',
      sandbox: true,
    });
  });

  it('parses the sim subcommand', () => {
    expect(parseCliArgs(['sim', '--port', '0', '--seed', 'x', '--offers', '5000', '--time-scale', '60', '--api-key', 'abcdefgh12'])).toEqual({
      command: 'sim',
      port: 0,
      seed: 'x',
      offers: 5000,
      timeScale: 60,
      apiKey: 'abcdefgh12',
      faults: undefined,
      rateLimits: false,
    });
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['sim', '--port', 'abc'], /--port must be a whole number/],
    [['sim', '--offers', '200000'], /--offers must be a whole number from 1 to 100000/],
    [['sim', '--time-scale', '0'], /--time-scale must be a number above 0/],
    [['--api-url', 'console.vast.ai'], /--api-url must be an http\(s\) URL/],
    [['launch'], /Unknown command "launch"/],
    [['sim', '--faults', '429:2'], /--faults: bad fault "429:2"/],
    [['sim', '--faults', 'gremlins:0.1'], /unknown fault "gremlins"/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});

describe('config', () => {
  const home = () => mkdtempSync(join(tmpdir(), 'vast-mcp-home-'));

  it('prefers VAST_API_KEY, then the CLI key file', () => {
    const h = home();
    mkdirSync(join(h, '.config', 'vastai'), { recursive: true });
    writeFileSync(join(h, '.config', 'vastai', 'vast_api_key'), 'file-key-123456\n', { mode: 0o600 });
    expect(resolveApiKey({ VAST_API_KEY: 'env-key-1234567' }, h)).toEqual({ key: 'env-key-1234567', source: 'env' });
    expect(resolveApiKey({}, h)).toEqual({ key: 'file-key-123456', source: 'file', warning: undefined });
  });

  it('warns when the key file is group/world readable, without showing the key', () => {
    const h = home();
    const file = join(h, '.config', 'vastai', 'vast_api_key');
    mkdirSync(join(h, '.config', 'vastai'), { recursive: true });
    writeFileSync(file, 'file-key-123456');
    chmodSync(file, 0o644);
    const r = resolveApiKey({}, h);
    expect(r.warning).toMatch(/chmod 600/);
    expect(r.warning).not.toContain('file-key-123456');
  });

  it('merges defaults < env < flags', () => {
    const h = home();
    expect(loadConfig({}, {}, h).config.apiUrl).toBe('https://console.vast.ai');
    expect(loadConfig({}, { VAST_URL: 'http://127.0.0.1:1/' }, h).config.apiUrl).toBe('http://127.0.0.1:1');
    expect(loadConfig({ apiUrl: 'http://127.0.0.1:2' }, { VAST_URL: 'http://127.0.0.1:1' }, h).config.apiUrl).toBe('http://127.0.0.1:2');
    expect(loadConfig({}, {}, h).config.apiKeySource).toBe('none');
    expect(() => loadConfig({}, { VAST_MCP_HEADERS_TIMEOUT_MS: '-5' }, h)).toThrow(/VAST_MCP_HEADERS_TIMEOUT_MS must be a positive number/);
  });
});
