#!/usr/bin/env node
// The `pharmid` command: runs the compiled CLI (built by `npm ci` / `npm run build`).
import { runCli } from '../dist/src/cli/main.js';

// Exit explicitly: the embedded Postgres package's exit hook would otherwise replace the exit code.
process.exit(await runCli(process.argv.slice(2)));
