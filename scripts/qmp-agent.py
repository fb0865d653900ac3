#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Hot-plug memory of the running VM on the guest's request.

The guest cannot reach QEMU's monitor, but it shares a directory with the
host. A test writes `<name>.req` with one request; this agent carries it out
through QMP and answers in `<name>.done`:

- `node=<nid> size=<bytes>`: plug a pc-dimm of that size on that node
  (object-add, then device_add); answer `ok <id>`;
- `del=<id>`: ask the guest to eject DIMM `<id>` (device_del, an ACPI eject
  request) and wait for the outcome: `ok deleted` once QEMU reports
  DEVICE_DELETED, `refused <status>` if the guest answers the eject with a
  failing _OST status (0x80-0x83, e.g. 0x82 busy: the memory is in use),
  `timeout` otherwise;
- `resize=<id> size=<bytes>`: set a virtio-mem device's requested-size;
  answer `ok <plugged-size>` once its plugged size reached it, or `timeout`.

Any failure is answered `error <message>`.
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
        self.events = []
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
            if "event" in msg:
                self.events.append(msg)

    def wait_event(self, match, timeout):
        """The first event (kept or new) for which match() is true, or None."""
        deadline = time.time() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if match(ev):
                    return self.events.pop(i)
            left = deadline - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                msg = self._read()
            except socket.timeout:
                return None
            finally:
                self.sock.settimeout(None)
            if "event" in msg:
                self.events.append(msg)


def parse(text):
    fields = dict(kv.split("=", 1) for kv in text.split())
    if "del" in fields:
        return "del", fields["del"], 0
    if "resize" in fields:
        return "resize", fields["resize"], int(fields["size"])
    node = int(fields["node"])
    size = int(fields["size"])
    if node < 0 or size <= 0 or size % (128 << 20):
        raise ValueError(f"bad request: {text!r}")
    return "add", node, size


def eject(qmp, dev):
    # Events of an earlier eject (a refused one sends more than one _OST)
    # must not answer this one: read and drop whatever is queued.
    qmp.wait_event(lambda ev: False, 1.0)
    qmp.events.clear()
    qmp.cmd("device_del", id=dev)

    def outcome(ev):
        data = ev.get("data", {})
        if ev["event"] == "DEVICE_DELETED" and data.get("device") == dev:
            return True
        info = data.get("info", {})
        # 0x84 is "ejection in progress", sent when the guest starts; the
        # failures are 0x80-0x83 (not supported, in use, busy, dependency).
        return (ev["event"] == "ACPI_DEVICE_OST" and info.get("device") == dev
                and 0x80 <= info.get("status", 0) <= 0x83)

    ev = qmp.wait_event(outcome, 120)
    if ev is None:
        return "timeout"
    if ev["event"] == "DEVICE_DELETED":
        return "ok deleted"
    return f"refused {ev['data']['info']['status']:#x}"


def resize(qmp, dev, size):
    path = f"/machine/peripheral/{dev}"
    qmp.cmd("qom-set", path=path, property="requested-size", value=size)
    deadline = time.time() + 120
    while time.time() < deadline:
        plugged = qmp.cmd("qom-get", path=path, property="size")
        if plugged == size:
            return f"ok {plugged}"
        time.sleep(0.5)
    return "timeout"


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
                    kind, arg, size = parse(f.read())
                if qmp is None:
                    qmp = Qmp(sock_path)
                if kind == "del":
                    answer = eject(qmp, arg) + "\n"
                elif kind == "resize":
                    answer = resize(qmp, arg, size) + "\n"
                else:
                    seq += 1
                    mem, dev = f"hpmem{seq}", f"hpdimm{seq}"
                    qmp.cmd("object-add", **{"qom-type": "memory-backend-ram", "id": mem, "size": size})
                    qmp.cmd("device_add", driver="pc-dimm", id=dev, memdev=mem, node=arg)
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
