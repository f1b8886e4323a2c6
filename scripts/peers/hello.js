// Node.js as a peer for the labs: the http module on one thread, answering /hello with the same
// bytes as the course's servers. Prints "listening on HOST:PORT" like them.
//   node hello.js PORT [ROOT]   with ROOT, every other path is a file under it (chapter 08's lab)
// Files are streamed with fs.createReadStream: each 64 KiB read is a job for libuv's thread pool
// (4 threads unless UV_THREADPOOL_SIZE says otherwise), so a file that must come from the disk
// keeps one pool thread waiting, never the loop.
const fs = require('fs');
const http = require('http');
const path = require('path');
const port = Number(process.argv[2] || 0);
const root = process.argv[3];
const body = 'Hello, World!';

function notFound(res) {
  res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 14 });
  res.end('404 Not Found\n');
}

function sendFile(req, res) {
  const name = path.normalize(decodeURIComponent(req.url.split('?')[0]));
  if (name.includes('..')) return notFound(res);
  const file = path.join(root, name);
  fs.stat(file, (err, st) => {  // a pool job too
    if (err || !st.isFile()) return notFound(res);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': st.size });
    fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
  });
}

const server = http.createServer((req, res) => {
  if (req.url === '/hello') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  } else if (root) {
    sendFile(req, res);
  } else {
    notFound(res);
  }
});
server.keepAliveTimeout = 300000;  // the labs hold idle connections for a whole run
server.headersTimeout = 310000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;
server.listen(port, '127.0.0.1', () => {
  const a = server.address();
  console.log(`listening on ${a.address}:${a.port}`);
});
