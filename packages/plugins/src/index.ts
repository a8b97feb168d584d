// Public API of @bam/plugins. Other packages import only from here.
export {};
