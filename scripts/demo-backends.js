#!/usr/bin/env node
// Demo backends for proxymgr.example.yml: HTTP servers on 127.0.0.1 that say who they are.
'use strict';
const http = require('node:http');
const ports = process.argv.slice(2).map(Number);
for (const port of ports.length ? ports : [9001, 9002, 9003, 9004]) {
  http
    .createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`hello from backend 127.0.0.1:${port} (${req.method} ${req.url})\n`);
    })
    .listen(port, '127.0.0.1', () => console.log(`demo backend listening on 127.0.0.1:${port}`));
}
