// tokenize_cmd.h: `mattn-ref tokenize`.
#pragma once

// Prints the token ids of a prompt (one line, space-separated). Returns an exit status.
int cmd_tokenize(int argc, char** argv);
