// Entry of the PC/SC benchmark's card thread (see pcsc-card.ts): worker threads do not inherit tsx's loader, so
// this plain module registers it and loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./pcsc-card.ts');
