"""Bridge between the Node notebook runner and a Jupyter kernel, over JSON lines.

Run with Debian's /usr/bin/python3 (which has jupyter_client). The runner writes one request per
line on stdin and reads one event per line on stdout; everything else (logs) goes to stderr.

Requests:  {"op": "execute", "id": <str>, "code": <str>, "timeout": <seconds or null>}
           {"op": "interrupt"}   (interrupts the running cell: SIGINT to the kernel)
           {"op": "shutdown"}
Events:    {"event": "ready", "kernel": <kernel_info>}
           {"event": "output", "id": <request id>, "output": <nbformat v4 output>}
           {"event": "done", "id": <request id>, "status": "ok"|"error"|"abort"|"timeout", "execution_count": n}
           {"event": "kernel_died", "id": <request id or null>}
           {"event": "fatal", "message": <str>}

Outputs are attributed by the kernel message's parent id, so output a cell produces after it went
idle (tslab prints late unhandled rejections that way) still reaches the right cell.
"""

import argparse
import json
import queue
import sys
import threading
import time


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


try:
    from jupyter_client.manager import KernelManager
    from jupyter_client.kernelspec import NoSuchKernel
except ImportError as exc:  # pragma: no cover - depends on the host
    emit({"event": "fatal", "message": "jupyter_client is not importable by %s (%s); "
          "install Debian's jupyter-client: npm run notebook:setup" % (sys.executable, exc)})
    sys.exit(3)


def iopub_to_output(msg):
    """Converts an iopub message to an nbformat v4 output, or None for non-output messages."""
    kind = msg["msg_type"]
    content = msg["content"]
    if kind == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}
    if kind in ("display_data", "update_display_data"):
        return {"output_type": "display_data", "data": content.get("data", {}),
                "metadata": content.get("metadata", {})}
    if kind == "execute_result":
        return {"output_type": "execute_result", "data": content.get("data", {}),
                "metadata": content.get("metadata", {}), "execution_count": content.get("execution_count")}
    if kind == "error":
        return {"output_type": "error", "ename": content.get("ename", ""),
                "evalue": content.get("evalue", ""), "traceback": content.get("traceback", [])}
    if kind == "clear_output":
        return {"output_type": "clear_output", "wait": content.get("wait", False)}
    return None


class Bridge:
    def __init__(self, kernel_name, cwd, startup_timeout):
        self.km = KernelManager(kernel_name=kernel_name)
        self.km.start_kernel(cwd=cwd)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=startup_timeout)
        self.request_of_msg = {}  # kernel msg_id -> runner request id
        self.interrupt_requested = threading.Event()  # set by the stdin reader thread
        self.runner_gone = threading.Event()  # stdin closed: the runner exited, stop whatever runs

    def forward_iopub(self, wait):
        """Forwards one iopub message if any arrives within `wait` seconds; returns it (or None)."""
        try:
            msg = self.kc.get_iopub_msg(timeout=wait)
        except queue.Empty:
            return None
        request_id = self.request_of_msg.get(msg["parent_header"].get("msg_id"))
        if request_id is not None:
            output = iopub_to_output(msg)
            if output is not None:
                emit({"event": "output", "id": request_id, "output": output})
        return msg

    def execute(self, request_id, code, timeout):
        msg_id = self.kc.execute(code, store_history=True, allow_stdin=False, stop_on_error=True)
        self.request_of_msg[msg_id] = request_id
        deadline = None if timeout is None else time.monotonic() + timeout
        reply = None
        idle = False
        while reply is None or not idle:
            if deadline is not None and time.monotonic() > deadline:
                self.interrupt_after_timeout(msg_id)
                emit({"event": "done", "id": request_id, "status": "timeout", "execution_count": None})
                return
            if self.runner_gone.is_set():
                self.interrupt_after_timeout(msg_id)
                return
            if self.interrupt_requested.is_set():
                self.interrupt_requested.clear()
                self.km.interrupt_kernel()
            msg = self.forward_iopub(0.05)
            if msg is not None and msg["parent_header"].get("msg_id") == msg_id \
                    and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
            if reply is None:
                reply = self.shell_reply(msg_id, 0 if msg is not None else 0.05)
            if msg is None and not self.km.is_alive():
                if reply is None:
                    emit({"event": "kernel_died", "id": request_id})
                    return
                break  # replied, then died before going idle: report the reply
        emit({"event": "done", "id": request_id, "status": reply["content"].get("status", "error"),
              "execution_count": reply["content"].get("execution_count")})

    def shell_reply(self, msg_id, wait):
        while True:
            try:
                msg = self.kc.get_shell_msg(timeout=wait)
            except queue.Empty:
                return None
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def interrupt_after_timeout(self, msg_id):
        """Interrupts the kernel (tslab rejects the pending await on SIGINT) and drains its reply."""
        self.km.interrupt_kernel()
        end = time.monotonic() + 5
        while time.monotonic() < end:
            self.forward_iopub(0.05)
            if self.shell_reply(msg_id, 0) is not None:
                return

    def shutdown(self):
        try:
            # Give late output (e.g. unhandled rejections printed after the last cell) a moment.
            while self.forward_iopub(0.05) is not None:
                pass
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--startup-timeout", type=float, default=60)
    args = parser.parse_args()
    try:
        bridge = Bridge(args.kernel, args.cwd, args.startup_timeout)
    except NoSuchKernel:
        emit({"event": "fatal", "message": "no Jupyter kernel named '%s' is registered; run: npm run notebook:setup"
              % args.kernel})
        return 3
    except Exception as exc:  # the runner reports it; a traceback would not help the user
        emit({"event": "fatal", "message": "could not start the '%s' kernel: %s" % (args.kernel, exc)})
        return 3
    emit({"event": "ready", "kernel": bridge.kc.kernel_info_dict if hasattr(bridge.kc, "kernel_info_dict") else {}})

    requests = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            if not line.strip():
                continue
            request = json.loads(line)
            if request["op"] == "interrupt":
                bridge.interrupt_requested.set()  # seen by the execute loop while a cell runs
            else:
                requests.put(request)
        bridge.runner_gone.set()
        requests.put({"op": "shutdown"})  # the runner went away: stop the kernel too

    threading.Thread(target=read_stdin, daemon=True).start()
    try:
        while True:
            request = requests.get()
            if request["op"] == "shutdown":
                return 0
            if request["op"] == "execute":
                bridge.execute(request["id"], request["code"], request.get("timeout"))
    finally:
        bridge.shutdown()


if __name__ == "__main__":
    sys.exit(main())
