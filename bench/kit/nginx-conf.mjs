/**
 * nginx.conf for a loopback load balancer in front of local gateways, as a deployment would
 * configure it for MCP: round-robin, no buffering (SSE), long read timeouts, WebSocket
 * upgrades. The multi-worker tests (test/helpers/nginx.ts) use the defaults; the scale-out
 * scenario (scale-out.mjs) raises the limits to carry its load.
 *
 * @param {object} o
 * @param {string} o.dir nginx's prefix directory (pid, logs/, temp paths)
 * @param {number} o.port where nginx listens, on 127.0.0.1
 * @param {number[]} o.upstreams the gateways' ports on 127.0.0.1
 * @param {number} [o.workers] worker_processes (1)
 * @param {number} [o.workerConnections] worker_connections (1024)
 * @param {number} [o.keepalive] idle keep-alive connections kept to the gateways (32)
 * @param {boolean} [o.underLoad] a deep listen backlog and 100,000 requests per keep-alive connection
 * @returns {string}
 */
export function nginxConf({ dir, port, upstreams, workers = 1, workerConnections = 1024, keepalive = 32, underLoad = false }) {
  const perConnection = underLoad ? ' keepalive_requests 100000;' : '';
  return `worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections ${workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream gateways { ${upstreams.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive ${keepalive};${perConnection} }
  server {
    listen 127.0.0.1:${port}${underLoad ? ' backlog=4096' : ''};${perConnection}
    client_max_body_size 8m;
    location / {
      proxy_pass http://gateways;
      proxy_http_version 1.1;
      proxy_set_header Host $host:$server_port;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 3600s;
    }
  }
}
`;
}
