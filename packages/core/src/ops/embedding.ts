/**
 * Embedding lookup: rows of a [V, D] table picked by token ids.
 *
 * `tf.gather`'s gradient is an `UnsortedSegmentSum`, which the wasm backend lacks; importing this
 * module registers a JavaScript kernel for it (./kernels.ts), so the plain gather trains on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError, ShapeError } from '../errors.ts';
import './kernels.ts';

/**
 * Returns `table[ids]`: ids int32 of any shape [...S] → [...S, D]. The gradient w.r.t. the table
 * is the scatter-add of the output gradient into the rows named by ids.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  if (table.rank !== 2) throw new ShapeError('embedding table', [-1, -1], table.shape, 'embeddingLookup');
  if (ids.dtype !== 'int32') {
    throw new BamError(`embedding ids must be int32, got ${ids.dtype}`, 'E_DTYPE', "make token tensors with dtype 'int32'");
  }
  if (ids.rank === 1) return tf.gather(table, ids); // [N, D]
  const flat = tf.reshape(ids, [-1]); // [N]
  return tf.reshape(tf.gather(table, flat), [...ids.shape, table.shape[1]]); // [...S, D]
}
