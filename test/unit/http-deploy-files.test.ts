import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// Docker cannot run on the project's machine: these checks are what stands between the files and a typo.
const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const compose = parse(readFileSync(root('compose.yaml'), 'utf8'), { merge: true }) as any;
const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
const haproxy = readFileSync(root('deploy/haproxy.cfg'), 'utf8');

describe('compose.yaml', () => {
  const servers = ['vast-mcp-1', 'vast-mcp-2'];

  it('runs two server replicas, PostgreSQL and a load balancer', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['lb', 'postgres', 'vast-mcp-1', 'vast-mcp-2']);
    expect(compose.services.postgres.image).toMatch(/^postgres:1[89]/);
    expect(compose.services.postgres.healthcheck.test.join(' ')).toMatch(/pg_isready/);
  });

  it.each(servers)('%s is built here, waits for PostgreSQL, and gets the store URL, auth and key from the environment', (name) => {
    const s = compose.services[name];
    expect(s.build).toBe('.');
    expect(s.depends_on.postgres.condition).toBe('service_healthy');
    expect(s.environment.VAST_MCP_STORE_URL).toMatch(/^postgres:\/\/vastmcp:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432\/vastmcp$/);
    expect(s.environment.VAST_MCP_AUTH_TOKENS).toBe('/run/vast-mcp/tokens.yaml');
    expect(s.volumes).toContain('./deploy/tokens.yaml:/run/vast-mcp/tokens.yaml:ro');
    expect(s.environment.VAST_API_KEY).toMatch(/^\$\{VAST_API_KEY:\?/);
    expect(s.environment.VAST_MCP_HTTP_HOST).toBe('0.0.0.0');
    expect(s.stop_grace_period).toBe('40s');
    expect(s.ports).toBeUndefined(); // only the load balancer is published
  });

  it('gives the replicas one shared state volume (audit log and ledger) and publishes only the balancer, on loopback', () => {
    const vols = servers.map((n) => compose.services[n].volumes.find((v: string) => v.endsWith(':/var/lib/vast-mcp')));
    expect(vols).toEqual(['state:/var/lib/vast-mcp', 'state:/var/lib/vast-mcp']);
    expect(Object.keys(compose.volumes).sort()).toEqual(['pgdata', 'state']);
    expect(compose.services.lb.ports).toEqual(['127.0.0.1:8080:8080']);
    expect(compose.services.lb.volumes[0]).toBe('./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
  });

  it('holds no secret literal', () => {
    const text = readFileSync(root('compose.yaml'), 'utf8');
    expect(text).not.toMatch(/(PASSWORD|API_KEY):\s*[A-Za-z0-9]{8,}\s*$/m);
  });
});

describe('deploy/haproxy.cfg', () => {
  it('balances both replicas, health-checks /healthz and keeps a session on the replica that opened it', () => {
    expect(haproxy).toMatch(/server replica1 vast-mcp-1:8787 check/);
    expect(haproxy).toMatch(/server replica2 vast-mcp-2:8787 check/);
    expect(haproxy).toMatch(/uri \/healthz/);
    expect(haproxy).toMatch(/stick store-response res\.hdr\(mcp-session-id\)/);
    expect(haproxy).toMatch(/stick match req\.hdr\(mcp-session-id\)/);
    expect(haproxy).toMatch(/bind :8080/);
  });
});

describe('Dockerfile', () => {
  const stages = dockerfile.match(/^FROM .*$/gm) ?? [];

  it('is multi-stage on the supported Node line and runs as a non-root user', () => {
    expect(stages).toHaveLength(2);
    for (const s of stages) expect(s).toMatch(/^FROM node:20-/);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).not.toMatch(/npm (ci|install)/);
  });

  it('installs from the lock file and builds better-sqlite3 from source', () => {
    expect(dockerfile).toMatch(/COPY package\.json package-lock\.json/);
    expect(dockerfile).toMatch(/npm ci --ignore-scripts/);
    expect(dockerfile).toMatch(/npm rebuild better-sqlite3 --build-from-source/);
    expect(dockerfile).toMatch(/python3 make g\+\+/);
    const pkg = JSON.parse(readFileSync(root('package.json'), 'utf8'));
    expect(pkg.allowScripts['better-sqlite3']).toBe(true);
  });

  it('copies every source directory the build needs and serves with a health check', () => {
    const tsconfig = JSON.parse(readFileSync(root('tsconfig.json'), 'utf8'));
    for (const glob of tsconfig.include as string[]) {
      const dir = glob.split('/')[0]!;
      expect(dockerfile).toContain(`COPY ${dir} ./${dir}`);
      expect(existsSync(root(dir))).toBe(true);
    }
    expect(dockerfile).toMatch(/COPY config \.\/config/);
    expect(dockerfile).toMatch(/HEALTHCHECK .*\n.*\/healthz/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "dist\/server\/main\.js"\]/);
    expect(dockerfile).toMatch(/CMD \["serve"\]/);
  });

  it('keeps local state, tokens and keys out of the build context', () => {
    const ignore = readFileSync(root('.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', 'dist', '.git', 'deploy/tokens.yaml', '.env']) expect(ignore).toContain(p);
  });
});
