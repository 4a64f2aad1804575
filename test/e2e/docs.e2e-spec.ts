import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/gateway-process.js';

/*
 * The scaling guide and the chart README stay runnable: every `npm run X` they give is a
 * package.json script, every `node <file>` and repository path they name exists, and each
 * chapter with measured figures names the command that reproduces them.
 */
const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const DOCS = ['docs/scaling.md', 'helm/mcp-gateway/README.md'];

describe.each(DOCS)('%s', (doc) => {
  const text = readFileSync(join(ROOT, doc), 'utf8');

  it('gives only npm scripts that exist', () => {
    const used = [...text.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1] as string);
    expect(used.filter((s) => !(s in scripts))).toEqual([]);
  });

  it('names only files that exist', () => {
    const paths = [...text.matchAll(/`((?:bench|docker|helm|src|test|docs)\/[\w./-]+)`/g)].map((m) => m[1] as string);
    const nodeFiles = [...text.matchAll(/node (bench\/[\w./-]+\.mjs)/g)].map((m) => m[1] as string);
    // bench/results/ holds what the benchmarks write: outputs, not in a fresh clone.
    const named = [...paths, ...nodeFiles].filter((p) => !p.startsWith('bench/results/'));
    expect(named.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });
});

describe('docs/scaling.md', () => {
  const text = readFileSync(join(ROOT, 'docs/scaling.md'), 'utf8');
  it('follows the guide\'s chapters, and every chapter with figures names its command', () => {
    const chapters = text.split(/^## /m).slice(1);
    expect(chapters.map((c) => c.split('\n')[0])).toEqual([
      '1. The worker model: one event loop per core',
      '2. PM2 settings',
      '3. Database pool sizing',
      '4. Redis sizing',
      '5. HPA settings',
      '6. Stateless pods, SSE and WebSocket behind load balancers',
      '7. Probes and monitoring',
      '8. Benchmarking and load testing',
    ]);
    for (const chapter of chapters) {
      // A measured figure: req/s, bytes, MB, or a percentage.
      if (/\d[\d,.]* (req\/s|bytes|KB|MB)|\d+(\.\d+)?%/.test(chapter)) expect(chapter).toMatch(/npm run [\w:-]+|node bench\/|test\/e2e\//);
    }
  });
});
