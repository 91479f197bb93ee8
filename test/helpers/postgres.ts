// The tests' PostgreSQL: the same embedded server the load script starts (scripts/embedded-postgres.ts).
export { startTestPostgres, type TestPostgres } from '../../scripts/embedded-postgres.js';
