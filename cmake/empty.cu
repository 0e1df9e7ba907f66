// Placeholder so an OBJECT library with no CUDA sources yet still builds.
