"""Will it run on that cluster? The portability report of an image, from the facts of its
ELF files: architecture, x86-64 level, glibc and kernel floors, MPI, interconnect and GPU
stacks. Pure: the engine (layerscope.engine.portability) reads the files."""
