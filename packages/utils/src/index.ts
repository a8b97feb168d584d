// @bam/utils: the leaf package that core, eval and the CLI share (in the spirit of vitest's
// @vitest/utils). It depends on nothing of bam's and nothing of TF.js.
export {};
