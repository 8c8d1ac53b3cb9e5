// synth_cmd.h: `mattn-ref synth`.
#pragma once

// Writes a seeded random-weight model. Returns an exit status.
int cmd_synth(int argc, char** argv);
