#!/usr/bin/env node
// The `mitosis` binary. A committed shim, so that npm links it at install time, before `tsc -b` has built dist/.
import '../dist/main.js';
