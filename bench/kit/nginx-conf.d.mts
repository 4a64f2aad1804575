/** Types of nginx-conf.mjs, for the TypeScript tests that import it. */
export function nginxConf(options: {
  dir: string;
  port: number;
  upstreams: number[];
  workers?: number;
  workerConnections?: number;
  keepalive?: number;
  underLoad?: boolean;
}): string;
