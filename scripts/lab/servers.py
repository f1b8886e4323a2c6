"""servers: start the servers a lab compares (a chapter's binary, nginx, Node.js) and stop them by PID."""
import os
import shutil
import signal
import socket
import ssl
import time

from . import limits

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class LabError(Exception):
    pass


def state_dir():
    path = os.environ.get("LAB_STATE")
    if not path:
        raise LabError("LAB_STATE is not set: run labs through scripts/lab.sh")
    return path


def free_port():
    """A port the kernel says is free now (for nginx, which cannot print the port it got)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port, path="/hello", timeout=0.5, host="127.0.0.1"):
    """True when the server answers GET `path`, in plain HTTP or, failing that, over TLS (chapter 11)."""
    for tls in (False, True):
        try:
            with socket.create_connection((host, port), timeout=timeout) as raw:
                s = raw
                if tls:  # the lab measures servers, not certificates: nothing is verified
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                    s = context.wrap_socket(raw)
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1 "):
                    return True
        except OSError:  # ssl.SSLError is one
            pass
    return False


def tls_files(args):
    """A peer's `tls:NAME` word: its certificate and key, NAME.pem and NAME.key in $LAB_TLS; else None."""
    names = [a[len("tls:"):] for a in args if a.startswith("tls:")]
    if not names:
        return None
    folder = os.environ.get("LAB_TLS")
    if not folder:
        raise LabError("a TLS peer needs LAB_TLS, the folder of the lab's certificates")
    return os.path.join(folder, names[0] + ".pem"), os.path.join(folder, names[0] + ".key")


def alive(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until_answering(pid, port, what, seconds=10, host="127.0.0.1"):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not alive(pid):
            raise LabError(f"{what} exited at start; see its log in {state_dir()}")
        if answers(port, host=host):
            return
        time.sleep(0.05)
    raise LabError(f"{what} did not answer GET /hello on port {port} within {seconds} s")


def read_listening_line(pid, out_path, what, seconds=10):
    """The host and port from the server's first line, "listening on HOST:PORT"."""
    deadline = time.time() + seconds
    text = ""
    while time.time() < deadline and "\n" not in text:
        text = open(out_path).read() if os.path.exists(out_path) else ""
        if "\n" not in text:
            if not alive(pid):
                break
            time.sleep(0.02)
    line = text.split("\n", 1)[0].strip()
    if not line.startswith("listening on "):
        raise LabError(f"{what} did not print 'listening on HOST:PORT' (got {line!r}); see {state_dir()}")
    host, port = line[len("listening on "):].rsplit(":", 1)
    return host, int(port)


def command(name, args):
    """The command line that starts `name` (a chapter such as 02-threads, nginx [WORKERS] [aio]
    [tls:NAME], haproxy-hello tls:NAME, or node [ROOT]), and the port it will use (0: it prints the
    port it got)."""
    if name == "nginx":
        return nginx_command(args)
    if name == "nginx-proxy":
        return nginx_proxy_command(args)
    if name == "haproxy":
        return haproxy_command(args)
    if name == "haproxy-hello":
        return haproxy_hello_command(args)
    if name == "node":
        node = shutil.which("node") or shutil.which("nodejs")
        if not node:
            raise LabError("node is not installed")
        return 0, [node, os.path.join(ROOT, "scripts/peers/hello.js"), "0", *args[:1]]
    binary = os.path.join(ROOT, os.environ.get("BUILD", "build"), "bin", name)
    if not os.access(binary, os.X_OK):
        raise LabError(f"{binary} is not built: run make")
    host = [] if "--host" in args else ["--host", "127.0.0.1"]  # 09's backends listen on 127.0.0.2, .3...
    port = [] if "--port" in args else ["--port", "0"]          # ...on ports fixed for the whole lab
    return 0, [binary, *host, *port, *args]


def nginx_command(args):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    workers = args[0] if args else "1"
    # aio threads: file reads (and, with sendfile on, each sendfile call) go to a pool of threads
    aio = "aio threads;" if "aio" in args[1:] else ""
    # tls:NAME: the same server over TLS, set up as chapter 11 is: 1.2 and 1.3, the same AEAD
    # suites, tickets and no session cache. kTLS only where the lab found it (LAB_KTLS=1), as 11.
    tls, tls_conf = tls_files(args[1:]), ""
    if tls:
        tls_conf = (f"ssl_certificate {tls[0]}; ssl_certificate_key {tls[1]}; ssl_protocols TLSv1.2 TLSv1.3; "
                    "ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20; ssl_prefer_server_ciphers on; "
                    "ssl_session_tickets on; ssl_session_cache off;"
                    + (" ssl_conf_command Options KTLS;" if os.environ.get("LAB_KTLS") == "1" else ""))
    port = free_port()
    fd_limit = limits.raise_fd_limit()
    state = state_dir()
    root = os.path.join(state, "www")
    os.makedirs(root, exist_ok=True)
    values = {"WORKERS": workers, "FD_LIMIT": str(fd_limit), "WORKER_CONNECTIONS": str(max(1024, fd_limit - 64)),
              "STATE": state, "PORT": str(port), "ROOT": os.environ.get("LAB_WWW", root),
              "REUSEPORT": "reuseport" if workers != "1" else "", "AIO": aio,
              "SSL": "ssl" if tls else "", "TLS": tls_conf}
    text = open(os.path.join(ROOT, "scripts/peers/nginx.conf.in")).read()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    conf = os.path.join(state, "nginx.conf")
    with open(conf, "w") as f:
        f.write(text)
    return port, [nginx, "-c", conf, "-p", state, "-e", os.path.join(state, "nginx-error.log")]


def fill_template(template, values, conf_name):
    text = open(os.path.join(ROOT, "scripts/peers", template)).read()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    conf = os.path.join(state_dir(), conf_name)
    with open(conf, "w") as f:
        f.write(text)
    return conf


def proxy_args(args):
    """The backends (HOST:PORT words) and the switches (nokeepalive, nobuffering) of a proxy peer."""
    backends = [a for a in args if ":" in a]
    if not backends:
        raise LabError("a proxy peer needs its backends as HOST:PORT")
    return backends, "nokeepalive" not in args, "nobuffering" not in args


def nginx_proxy_command(args):
    """nginx as a reverse proxy, one worker: nginx-proxy HOST:PORT... [nokeepalive] [nobuffering]."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    backends, keepalive, buffering = proxy_args(args)
    port = free_port()
    fd_limit = limits.raise_fd_limit()
    state = state_dir()
    values = {"FD_LIMIT": str(fd_limit), "WORKER_CONNECTIONS": str(max(1024, fd_limit - 64)), "STATE": state,
              "PORT": str(port), "SERVERS": "\n        ".join(f"server {b};" for b in backends),
              "KEEPALIVE": "keepalive 32;" if keepalive else "", "BUFFERING": "on" if buffering else "off"}
    conf = fill_template("nginx-proxy.conf.in", values, "nginx-proxy.conf")
    return port, [nginx, "-c", conf, "-p", state, "-e", os.path.join(state, "nginx-error.log")]


def haproxy_command(args):
    """HAProxy, one thread: haproxy HOST:PORT... [nokeepalive]."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.access(haproxy, os.X_OK):
        raise LabError("haproxy is not installed")
    backends, keepalive, _ = proxy_args(args)
    port = free_port()
    fd_limit = limits.raise_fd_limit()
    reuse = "http-reuse safe" if keepalive else "option http-server-close\n    http-reuse never"
    values = {"MAXCONN": str(max(1024, fd_limit // 2 - 64)), "STATE": state_dir(), "PORT": str(port),
              "SERVERS": "\n    ".join(f"server b{i} {b}" for i, b in enumerate(backends)), "REUSE": reuse}
    conf = fill_template("haproxy.cfg.in", values, "haproxy.cfg")
    return port, [haproxy, "-f", conf, "-db"]


def haproxy_hello_command(args):
    """HAProxy answering /hello itself, one thread: haproxy-hello [tls:NAME] (plain without)."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.access(haproxy, os.X_OK):
        raise LabError("haproxy is not installed")
    tls, ssl_words = tls_files(args), ""
    if tls:  # HAProxy takes the certificate and its key in one file
        bundle = os.path.join(state_dir(), "haproxy-" + os.path.basename(tls[0]))
        with open(bundle, "w") as f:
            f.write(open(tls[0]).read() + open(tls[1]).read())
        ssl_words = f"ssl crt {bundle} alpn http/1.1"
    port = free_port()
    values = {"MAXCONN": str(max(1024, limits.raise_fd_limit() // 2 - 64)), "STATE": state_dir(), "PORT": str(port),
              "SSL": ssl_words}
    conf = fill_template("haproxy-hello.cfg.in", values, "haproxy-hello.cfg")
    return port, [haproxy, "-f", conf, "-db"]


def ready(pid, port, out_path, what):
    """Waits until the server started as `pid` listens and answers; returns its port."""
    host = "127.0.0.1"
    if port == 0:
        host, port = read_listening_line(pid, out_path, what)
    wait_until_answering(pid, port, what, host=host)
    with open(os.path.join(state_dir(), "pids"), "a") as f:
        f.write(f"{pid}\n")
    return port


def stop(pid, grace=3.0):
    """SIGTERM, then SIGKILL after `grace` seconds; only ever a PID this lab started.
    The servers are children of the lab's shell, which reaps them."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + grace
    while time.time() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


def stop_all():
    path = os.path.join(state_dir(), "pids")
    if not os.path.exists(path):
        return
    for line in open(path).read().split():
        stop(int(line))
    os.remove(path)
