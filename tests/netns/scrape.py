#!/usr/bin/env python3
"""scrape.py ADDR [PATH]: GET PATH (default /metrics) from wgnet-host's
metrics endpoint (unix:/path, 127.0.0.1:PORT or [::1]:PORT); the body on
stdout; exit 1 unless the status is 200. WGNET_SCRAPE_TIME=FILE: write the
milliseconds the exchange took (connect to the last byte) there."""
import os
import socket
import sys
import time

addr = sys.argv[1]
path = sys.argv[2] if len(sys.argv) > 2 else "/metrics"
if addr.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    target = addr[5:]
elif addr.startswith("["):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    host, port = addr[1:].split("]:")
    target = (host, int(port))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    host, port = addr.rsplit(":", 1)
    target = (host, int(port))
s.settimeout(10)
t0 = time.monotonic()
s.connect(target)
s.sendall(("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" % path).encode())
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
if os.environ.get("WGNET_SCRAPE_TIME"):
    with open(os.environ["WGNET_SCRAPE_TIME"], "w") as f:
        f.write("%d\n" % ((time.monotonic() - t0) * 1000))
head, _, body = data.partition(b"\r\n\r\n")
status = head.split(b"\r\n")[0]
sys.stdout.write(body.decode())
if b" 200 " not in status:
    sys.stderr.write(status.decode() + "\n")
    sys.exit(1)
