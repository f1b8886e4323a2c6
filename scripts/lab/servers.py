"""servers: start the servers a lab compares (a chapter's binary, nginx, Node.js) and stop them by PID."""
import os
import shutil
import signal
import socket
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


def answers(port, path="/hello", timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n".encode())
            return s.recv(64).startswith(b"HTTP/1.1 ")
    except OSError:
        return False


def alive(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until_answering(pid, port, what, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not alive(pid):
            raise LabError(f"{what} exited at start; see its log in {state_dir()}")
        if answers(port):
            return
        time.sleep(0.05)
    raise LabError(f"{what} did not answer GET /hello on port {port} within {seconds} s")


def read_listening_line(pid, out_path, what, seconds=10):
    """The port from the server's first line, "listening on HOST:PORT"."""
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
    return int(line.rsplit(":", 1)[1])


def command(name, args):
    """The command line that starts `name` (a chapter such as 02-threads, nginx [WORKERS] [aio], or
    node [ROOT]), and the port it will use (0: it prints the port it got)."""
    if name == "nginx":
        return nginx_command(args)
    if name == "node":
        node = shutil.which("node") or shutil.which("nodejs")
        if not node:
            raise LabError("node is not installed")
        return 0, [node, os.path.join(ROOT, "scripts/peers/hello.js"), "0", *args[:1]]
    binary = os.path.join(ROOT, os.environ.get("BUILD", "build"), "bin", name)
    if not os.access(binary, os.X_OK):
        raise LabError(f"{binary} is not built: run make")
    return 0, [binary, "--host", "127.0.0.1", "--port", "0", *args]


def nginx_command(args):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    workers = args[0] if args else "1"
    # aio threads: file reads (and, with sendfile on, each sendfile call) go to a pool of threads
    aio = "aio threads;" if "aio" in args[1:] else ""
    port = free_port()
    fd_limit = limits.raise_fd_limit()
    state = state_dir()
    root = os.path.join(state, "www")
    os.makedirs(root, exist_ok=True)
    values = {"WORKERS": workers, "FD_LIMIT": str(fd_limit), "WORKER_CONNECTIONS": str(max(1024, fd_limit - 64)),
              "STATE": state, "PORT": str(port), "ROOT": os.environ.get("LAB_WWW", root),
              "REUSEPORT": "reuseport" if workers != "1" else "", "AIO": aio}
    text = open(os.path.join(ROOT, "scripts/peers/nginx.conf.in")).read()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    conf = os.path.join(state, "nginx.conf")
    with open(conf, "w") as f:
        f.write(text)
    return port, [nginx, "-c", conf, "-p", state, "-e", os.path.join(state, "nginx-error.log")]


def ready(pid, port, out_path, what):
    """Waits until the server started as `pid` listens and answers; returns its port."""
    if port == 0:
        port = read_listening_line(pid, out_path, what)
    wait_until_answering(pid, port, what)
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
