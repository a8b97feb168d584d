/** Backend selection (tensorflow → wasm → cpu) with the reason for the choice. */
export { selectBackend, BACKEND_NAMES } from './select.ts';
export type { BackendName, BackendChoice, SelectBackendOptions } from './select.ts';
