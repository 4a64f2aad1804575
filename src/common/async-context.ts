/**
 * Whether this runtime's AsyncLocalStorage runs on AsyncContextFrame (Node 24+ by default, Node
 * 22 with --experimental-async-context-frame) rather than on async_hooks. On async_hooks, the
 * first `run` turns on promise hooks that then cost every promise of the process: measured on
 * Node 20, about a fifth of a REST tools/call's throughput.
 */
export function asyncContextFrameInUse(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (flags.includes('--no-async-context-frame')) return false;
  return Number(process.versions.node.split('.')[0]) >= 24 || flags.includes('--experimental-async-context-frame');
}
