// After tsc: mark the CLI entry executable (tsc keeps the shebang, not the mode), and precompile the
// shipped profiles to JSON so start-up need not load a YAML parser for the defaults.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

const entry = new URL('../dist/server/main.js', import.meta.url);
if (existsSync(entry)) chmodSync(entry, 0o755);

const yamlFile = new URL('../config/default-profiles.yaml', import.meta.url);
const outDir = new URL('../dist/config/', import.meta.url);
mkdirSync(outDir, { recursive: true });
writeFileSync(new URL('default-profiles.json', outDir), `${JSON.stringify(parse(readFileSync(yamlFile, 'utf8')), null, 2)}\n`);
