// hf_list.h: the Hugging Face model types `mattn-ref convert` reads, one line each:
// CONVERTER(model_type, GGUF architecture, converter). The converter is the
// `int fn(struct Conv*)` its tools/hf_<family>.c defines; tools/convert.c declares each one
// and builds its table from these lines (no include guard: define CONVERTER, include, undefine).
CONVERTER("llama", "llama", hf_conv_llama)
CONVERTER("mistral", "llama", hf_conv_mistral)
CONVERTER("jamba", "jamba", hf_conv_jamba)
CONVERTER("mamba", "mamba", hf_conv_mamba)
CONVERTER("mamba2", "mamba2", hf_conv_mamba2)
CONVERTER("recurrent_gemma", "recurrentgemma", hf_conv_recurrentgemma)
CONVERTER("zamba2", "zamba2", hf_conv_zamba2)
CONVERTER("zamba", "zamba", hf_conv_zamba)
