// synth_cmd.h: `mattn-ref synth`.
#pragma once

// Writes a seeded random-weight model. Returns an exit status.
int cmd_synth(int argc, char** argv);
// The name of shape flag p (enum SynthParam, families.h), or NULL: lets a test check that
// the flag table names every parameter.
const char* synth_cmd_flag(int p);
