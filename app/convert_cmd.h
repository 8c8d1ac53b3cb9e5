// convert_cmd.h: `mattn-ref convert HF_DIR -o OUT.gguf`.
#pragma once

// Converts a Hugging Face checkpoint directory to GGUF (tools/convert.h); progress on
// stderr. Returns an exit status: 0 ok, 1 failure, 2 bad usage.
int cmd_convert(int argc, char** argv);
