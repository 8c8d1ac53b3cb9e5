// list.h: the architectures mattn runs, one line each: FAMILY(ID, object). The line makes the
// enum Arch value ARCH_<ID> (arch.h) and the registry row &object (registry.c); object is the
// `const struct Family` its family file defines (families.h). No include guard: each user
// defines FAMILY, includes this file and undefines FAMILY. Adding a family: docs/ADDING.md.
FAMILY(LLAMA, llama_family)                   // "llama" (Mistral is stored as llama)
FAMILY(RWKV7, rwkv7_family)                   // "rwkv7"
FAMILY(JAMBA, jamba_family)                   // "jamba"
FAMILY(MAMBA, mamba_family)                   // "mamba"
FAMILY(MAMBA2, mamba2_family)                 // "mamba2"
FAMILY(RECURRENTGEMMA, recurrentgemma_family) // "recurrentgemma" (mattn's layout, docs/GGUF.md)
FAMILY(ZAMBA2, zamba2_family)                 // "zamba2" (mattn's layout, docs/GGUF.md)
FAMILY(ZAMBA, zamba_family)                   // "zamba", Zamba v1 (mattn's layout, docs/GGUF.md)
