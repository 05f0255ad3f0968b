#!/usr/bin/env node
// The `vigil` command. Runs the compiled CLI; `npm install` builds it (the `prepare` script).
import { main } from '../dist/cluster/cli.js';

process.exitCode = await main(process.argv.slice(2));
