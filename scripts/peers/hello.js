// Node.js as a peer for the labs: the http module on one thread, answering /hello with the same
// bytes as the course's servers. Prints "listening on HOST:PORT" like them.
const http = require('http');
const port = Number(process.argv[2] || 0);
const body = 'Hello, World!';
const server = http.createServer((req, res) => {
  if (req.url === '/hello') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 14 });
    res.end('404 Not Found\n');
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
