// Worker-thread entry for the upcycle pool. Worker threads do not inherit the TypeScript loader,
// so register tsx here, then load the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
const { default: handle } = await import('./worker.ts');

export default handle;
