#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Hot-add DIMMs to the running VM on the guest's request.

The guest cannot reach QEMU's monitor, but it shares a directory with the
host. A test writes `<name>.req` containing `node=<nid> size=<bytes>`; this
agent plugs a pc-dimm of that size on that node through QMP (object-add,
then device_add) and answers in `<name>.done` with `ok <id>` or
`error <message>`.
"""
import json
import os
import socket
import sys
import time


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("QMP socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        self.sock.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        while True:
            msg = self._read()
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise RuntimeError(msg["error"].get("desc", str(msg["error"])))
            # Asynchronous events (ACPI_DEVICE_OST, ...) are skipped.


def parse(text):
    fields = dict(kv.split("=", 1) for kv in text.split())
    node = int(fields["node"])
    size = int(fields["size"])
    if node < 0 or size <= 0 or size % (128 << 20):
        raise ValueError(f"bad request: {text!r}")
    return node, size


def main():
    sock_path, req_dir = sys.argv[1], sys.argv[2]
    qmp = None
    seq = 0
    while True:
        reqs = sorted(f for f in os.listdir(req_dir) if f.endswith(".req"))
        for req in reqs:
            base = os.path.join(req_dir, req[: -len(".req")])
            path = os.path.join(req_dir, req)
            try:
                with open(path) as f:
                    node, size = parse(f.read())
                if qmp is None:
                    qmp = Qmp(sock_path)
                seq += 1
                mem, dev = f"hpmem{seq}", f"hpdimm{seq}"
                qmp.cmd("object-add", **{"qom-type": "memory-backend-ram", "id": mem, "size": size})
                qmp.cmd("device_add", driver="pc-dimm", id=dev, memdev=mem, node=node)
                answer = f"ok {dev}\n"
            except Exception as e:  # the guest gets the reason, the agent goes on
                answer = f"error {e}\n"
            os.rename(path, base + ".taken")
            with open(base + ".done.tmp", "w") as f:
                f.write(answer)
            os.rename(base + ".done.tmp", base + ".done")
            print(f"{req}: {answer.strip()}", flush=True)
        time.sleep(0.2)


if __name__ == "__main__":
    main()
