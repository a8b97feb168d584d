/**
 * Fixes to @tensorflow/tfjs-backend-webgpu 4.22 kernels, installed by `initWebGpu`.
 *
 * The backend generates each shader from the dtype of an input's *buffer* (its tensorMap entry),
 * not the tensor's nominal dtype, and
 * - `Cast` int32/bool → float32 only relabels the tensor (same buffer, still i32): the values stay
 *   i32 in GPU memory;
 * - `TransposeProgram` (any transpose but the 2-D [1, 0] one, and the transpose inside every
 *   reduction over a non-innermost axis) hands the element it reads to `setOutputAtIndex`, which
 *   takes an f32: with an i32 buffer the WGSL does not compile ("type mismatch for argument 2 in
 *   call to 'setOutputAtIndex'"), the pipeline is invalid and the op silently yields garbage.
 * bam hits this in the routers (`tf.sum(oneHotFloat(indices, E), 1)`: an int one-hot cast to
 * float, then reduced over axis 1). So `Cast` to float32 here writes a real f32 buffer, and
 * `Transpose` of an i32 buffer runs a copy of TransposeProgram that stores through
 * `setOutputAtIndexI32`. Reductions of genuinely int32 tensors over a non-innermost axis of a
 * rank ≥ 3 tensor still use TF.js's internal transpose and stay broken; bam does none.
 *
 * Also, `AddN` binds all its inputs to one shader: more than the device's
 * `maxStorageBuffersPerShaderStage` − 1 inputs (8 by default, 16 on llvmpipe; the trainer's
 * global-norm clipping adds one term per parameter) make an invalid pipeline. It is split into
 * chunks that fit.
 */
import * as tf from '@tensorflow/tfjs';

/** What we use of tfjs-backend-webgpu's exported `webgpu_util`. */
export interface WebGpuUtil {
  flatDispatchLayout(shape: number[]): { x: number[] };
  computeDispatch(layout: { x: number[] }, outputShape: number[], workgroupSize?: [number, number, number], elementsPerThread?: [number, number, number]): [number, number, number];
}

/** The members of tfjs's WebGPUBackend that the kernels here use. */
interface Backend {
  device: { limits: Record<string, number> };
  disposeData(dataId: object): boolean;
  tensorMap: { get(dataId: object): { dtype: string; values: ArrayLike<number> | null } };
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], outputDtype: tf.DataType): tf.TensorInfo;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
  shouldExecuteOnCPU(inputs: tf.TensorInfo[]): boolean;
}

const COORDS = ['x', 'y', 'z', 'w', 'u', 'v'];

function coordsType(rank: number): string {
  return rank <= 1 ? 'i32' : rank <= 4 ? `vec${rank}<i32>` : `vec${rank}`;
}

/** out[i] = f32(A[i]) for an i32 buffer (flat; any rank ≥ 1). */
class I32ToF32Program {
  variableNames = ['A'];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  shaderKey = 'bam_i32_to_f32';
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];

  constructor(shape: number[], util: WebGpuUtil) {
    this.outputShape = shape;
    this.dispatchLayout = util.flatDispatchLayout(shape);
    this.dispatch = util.computeDispatch(this.dispatchLayout, shape, this.workgroupSize);
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          setOutputAtIndexI32(index, A[index]);
        }
      }`;
  }
}

/** TF.js's TransposeProgram, storing through `setOutputAtIndexI32` (the element is an i32). */
class I32TransposeProgram {
  variableNames = ['A'];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  shaderKey: string;
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  private readonly perm: number[];

  constructor(aShape: number[], perm: number[], util: WebGpuUtil) {
    this.perm = perm;
    this.outputShape = perm.map((p) => aShape[p]);
    this.dispatchLayout = util.flatDispatchLayout(this.outputShape);
    this.dispatch = util.computeDispatch(this.dispatchLayout, this.outputShape, this.workgroupSize);
    this.shaderKey = `bam_transpose_i32_${perm.join(',')}`;
  }

  getUserCode(): string {
    const rank = this.outputShape.length;
    const switched = new Array<string>(rank);
    for (let i = 0; i < rank; i++) switched[this.perm[i]] = `coords.${COORDS[i]}`;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let coords = getCoordsFromIndex(index);
          setOutputAtIndexI32(index, A[getIndexFromCoords${rank}D(${coordsType(rank)}(${switched.join(',')}), uniforms.aShape)]);
        }
      }`;
  }
}

let installed = false;

/**
 * Replaces the webgpu `Cast`, `Transpose` and `AddN` kernels with the fixed ones above (once
 * per process; kernels are global to TF.js). Call after tfjs-backend-webgpu has been imported.
 */
export function installWebGpuKernelFixes(util: WebGpuUtil): void {
  if (installed) return;
  const cast = tf.getKernel('Cast', 'webgpu');
  const transpose = tf.getKernel('Transpose', 'webgpu');
  const addN = tf.getKernel('AddN', 'webgpu');
  if (!cast || !transpose || !addN) throw new Error('tfjs-backend-webgpu registered no Cast/Transpose/AddN kernel');
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({
    kernelName: 'AddN',
    backendName: 'webgpu',
    kernelFunc: ((args: { inputs: tf.TensorInfo[]; backend: Backend }) => {
      const be = args.backend;
      const run = (inputs: tf.TensorInfo[]): tf.TensorInfo => (addN.kernelFunc as (a: unknown) => tf.TensorInfo)({ ...args, inputs });
      // One binding for the output; the rest for inputs.
      const chunk = Math.max(2, (be.device.limits.maxStorageBuffersPerShaderStage ?? 8) - 1);
      let terms = [...args.inputs];
      const made: tf.TensorInfo[] = [];
      while (terms.length > chunk) {
        const next: tf.TensorInfo[] = [];
        for (let i = 0; i < terms.length; i += chunk) {
          const part = terms.slice(i, i + chunk);
          if (part.length === 1) next.push(part[0]);
          else {
            const sum = run(part);
            made.push(sum);
            next.push(sum);
          }
        }
        terms = next;
      }
      const out = run(terms);
      for (const t of made) be.disposeData(t.dataId);
      return out;
    }) as unknown as tf.KernelFunc,
  });
  tf.unregisterKernel('Cast', 'webgpu');
  tf.registerKernel({
    kernelName: 'Cast',
    backendName: 'webgpu',
    kernelFunc: ((args: { inputs: { x: tf.TensorInfo }; backend: Backend; attrs: { dtype: tf.DataType } }) => {
      const { x } = args.inputs;
      const be = args.backend;
      if (args.attrs.dtype === 'float32' && (x.dtype === 'int32' || x.dtype === 'bool') && x.shape.length > 0) {
        const data = be.tensorMap.get(x.dataId);
        if (data.values) return be.makeTensorInfo([...x.shape], 'float32', Float32Array.from(data.values));
        return be.runWebGPUProgram(new I32ToF32Program([...x.shape], util), [x], 'float32');
      }
      return (cast.kernelFunc as (a: unknown) => tf.TensorInfo)(args);
    }) as unknown as tf.KernelFunc,
  });
  tf.unregisterKernel('Transpose', 'webgpu');
  tf.registerKernel({
    kernelName: 'Transpose',
    backendName: 'webgpu',
    kernelFunc: ((args: { inputs: { x: tf.TensorInfo }; backend: Backend; attrs: { perm: number[] } }) => {
      const { x } = args.inputs;
      const { perm } = args.attrs;
      const be = args.backend;
      const buffer = be.tensorMap.get(x.dataId);
      const shared2d = x.shape.length === 2 && perm[0] === 1 && perm[1] === 0;
      if (buffer.dtype !== 'float32' && !shared2d && x.shape.length >= 2 && x.shape.length <= 6 && !be.shouldExecuteOnCPU([x])) {
        return be.runWebGPUProgram(new I32TransposeProgram([...x.shape], [...perm], util), [x], x.dtype);
      }
      return (transpose.kernelFunc as (a: unknown) => tf.TensorInfo)(args);
    }) as unknown as tf.KernelFunc,
  });
  installed = true;
}
