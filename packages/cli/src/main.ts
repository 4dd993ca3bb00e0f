#!/usr/bin/env node
import { runCli } from './program.js';
import { exitWithParent } from './parent-watch.js';

exitWithParent(process.env);
process.exitCode = await runCli(process.argv.slice(2));
