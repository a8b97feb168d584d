// Worker-thread entry for the piscina pool. Worker threads do not inherit the TypeScript loader,
// so register tsx here (ESM and CommonJS hooks: a plugin .ts file may sit in a CommonJS package),
// then load the TypeScript worker.
import { register } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';

register();
registerCjs();
const { default: handleJob } = await import('./worker.ts');

export default handleJob;
