/**
 * Test helpers of the platform (`@simtap/host/testing`): a PostgreSQL server for tests and benchmarks —
 * `SIMTAP_TEST_DATABASE_URL` when set, else a throwaway cluster started from the PostgreSQL binaries when installed
 * (`scripts/throwaway-postgres.sh`), else a one-line skip reason (a failure under `CI=true`) — and fresh schemas on it.
 * @module
 */
export * from './postgres';
