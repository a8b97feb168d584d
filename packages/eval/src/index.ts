// Public API of @bam/eval. Other packages import only from here.
export {};
