/** The PostgreSQL test server helpers, now in `@simtap/host/testing` (kept here for the host's own tests). */
export * from '../src/testing/postgres';
