/**
 * Whether the active TF.js backend can read tensor values synchronously.
 *
 * On the webgpu backend in Node, `dataSync()`/`arraySync()` of a tensor that lives on the GPU
 * throw (`OffscreenCanvas is not defined`: tfjs-backend-webgpu's readSync copies through an
 * OffscreenCanvas, which Node lacks) and Dawn offers no blocking wait. Code that must stay inside
 * one `tf.tidy` (every forward) therefore asks this first and takes a path without the read.
 */
import * as tf from '@tensorflow/tfjs';

/** False on webgpu (reads must be `await t.data()` there); true on wasm, cpu and tensorflow. */
export function syncReadsAvailable(): boolean {
  return tf.getBackend() !== 'webgpu';
}
