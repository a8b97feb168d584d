// Public API of @bam/upcycle. Other packages import only from here.
export {};
