#!/usr/bin/env node
// Package bin for the stdio bridge. The CLI is compiled TypeScript: build first (`npm run build`).
await import('../dist/federation/stdio-bridge/translate.cli.js');
