"""What the serving tests do around a model server: a free port, an HTTP call, waiting for a
condition, pushing a version as the Pusher does, stopping a server process."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, body=None, headers=None, timeout=10):
    """(status, text) of a GET, or of a POST of `body` (bytes, or JSON of anything else)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {},
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_until(condition, seconds: float = 20.0) -> bool:
    """Whether `condition()` came true within `seconds` (asked every 20 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def push(model_dir: str, base_path: str, version: int) -> None:
    """Writes a version like the Pusher: into a temporary dir, then renamed into place."""
    tmp = os.path.join(base_path, f".tmp-{version}")
    shutil.copytree(model_dir, tmp)
    os.rename(tmp, os.path.join(base_path, str(version)))


def stop(process: subprocess.Popen, seconds: float = 30) -> None:
    """SIGTERM to a server process still running, SIGKILL if it has not ended in `seconds`."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
