// Public API of @bam/core. Other packages import only from here.
export {};
