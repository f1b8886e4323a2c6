"""upstream: what a proxy does to its backends, seen from the backends' side of the sockets.

Read from /proc/net/tcp, which lists every TCP socket of this machine with its state and its
queues, so the same count works for every proxy, ours or a peer's, without asking it anything:
  held         a backend connection with bytes of a response the proxy has not taken: in the
               backend's send queue, or in the proxy's receive queue of the same connection
               (loopback lists both ends). Either way the proxy is not reading: it waits for a
               slow client. The receive side matters: the kernel may take a whole response there.
  established  every connection to the backends: busy and idle (a keep-alive pool) alike
"""
import json
import os
import time


def sockets(ports):
    """(established, held) connections to a backend whose port is one of `ports`."""
    waiting = {}  # (backend end, proxy end): bytes not taken on either side
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(path).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "01":  # 01: ESTABLISHED
                continue
            local, remote = fields[1], fields[2]
            tx, rx = (int(q, 16) for q in fields[4].split(":"))
            if int(local.rsplit(":", 1)[1], 16) in ports:  # the backend's end: what it could not send yet
                key = (local, remote)
                waiting[key] = waiting.get(key, 0) + tx
            elif int(remote.rsplit(":", 1)[1], 16) in ports:  # the proxy's end: what it has not read
                key = (remote, local)
                waiting[key] = waiting.get(key, 0) + rx
    return len(waiting), sum(1 for queued in waiting.values() if queued > 0)


def sample(ports, seconds, interval=0.2):
    """Samples the backends' connections for `seconds`; the most and the mean of each count."""
    counts = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        counts.append(sockets(ports))
        time.sleep(interval)
    if not counts:
        return {}
    return {"backend_conns_max": max(c[0] for c in counts),
            "backend_conns_mean": round(sum(c[0] for c in counts) / len(counts), 1),
            "backend_held_max": max(c[1] for c in counts),
            "backend_held_mean": round(sum(c[1] for c in counts) / len(counts), 1)}


def first_connection(port, timeout):
    """Seconds until some connection to `port` is established (polled every 20 ms); None if none came."""
    start = time.time()
    while time.time() - start < timeout:
        if sockets({port})[0] > 0:
            return round(time.time() - start, 2)
        time.sleep(0.02)
    return None


def attach(rows_path, label, server, fields):
    """Adds `fields` to the last row with this label and server."""
    rows = [json.loads(line) for line in open(rows_path)] if os.path.exists(rows_path) else []
    for row in reversed(rows):
        if row["label"] == label and row.get("server_name", row.get("server")) == server:
            row.update(fields)
            break
    else:
        raise ValueError(f"no row labelled {label!r} for {server}")
    with open(rows_path, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
