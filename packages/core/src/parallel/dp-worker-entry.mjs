// Worker-thread entry of data-parallel training. Worker threads do not inherit the TypeScript
// loader of the main thread, so register tsx here (as packages/eval/src/worker-entry.mjs does),
// then load the TypeScript replica.
import { register } from 'tsx/esm/api';

register();
await import('./dp-worker.ts');
