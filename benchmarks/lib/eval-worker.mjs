// Worker-thread entry of benchmarks/eval.ts. Worker threads do not inherit the main thread's
// TypeScript loader, so register tsx here, then load the TypeScript task.
import { register } from 'tsx/esm/api';

register();
const { default: scoreChunk } = await import('./eval-worker.ts');

export default scoreChunk;
