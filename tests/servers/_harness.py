"""Shared plumbing for the loopback SpaceONE test servers (v1_server.py, v2_server.py).

Runs inside either venv (grpcio 1.85.1 + protobuf 3.20.3 in both), so it only uses
grpc, protobuf and the standard library.

What it provides:
  * argument parsing common to both servers;
  * stdout/stderr handling: stdout carries exactly one READY line, everything else
    goes to <state-dir>/server.log (or to stderr with --log-to-stderr);
  * a patch for grpc.server() that binds 127.0.0.1 instead of [::], supports port 0
    and adds the request-recording interceptor;
  * the request recorder that writes <state-dir>/requests.jsonl;
  * SIGTERM/SIGINT handling that stops the gRPC server cleanly.
"""

import argparse
import base64
import inspect
import json
import os
import signal
import sys
import threading
import time

import grpc
from google.protobuf.json_format import MessageToDict



def log(fmt, *args, level="INFO"):
    """Harness log line on stderr (= server.log). Not via `logging`: the SpaceONE
    frameworks call logging.config.dictConfig(), which disables foreign loggers."""
    try:
        msg = fmt % args if args else fmt
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        sys.stderr.write(f"{ts}Z [{level}] harness: {msg}\n")
        sys.stderr.flush()
    except Exception:
        pass


# Requests carrying this metadata key are harness-internal (e.g. creating the 1.x
# local repository at start-up) and are not written to requests.jsonl.
INTERNAL_METADATA_KEY = "x-test-harness-internal"

# Services whose calls are never recorded (reflection streams, health probes).
_UNRECORDED_SERVICE_PREFIXES = ("grpc.",)


# --------------------------------------------------------------------------- args / io


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = pick a free one)")
    parser.add_argument("--registry-url", required=True,
                        help="OCI registry base URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--state-dir", required=True,
                        help="directory for config.yml, server.log and requests.jsonl (created if missing)")
    parser.add_argument("--no-local-repository", action="store_true",
                        help="v1: do not create the 'local' repository after start-up")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop the server when stdin reaches EOF (spawn with a piped stdin and keep "
                             "it open; the server then dies with its parent)")
    parser.add_argument("--log-to-stderr", action="store_true",
                        help="send logs to stderr instead of <state-dir>/server.log")
    args = parser.parse_args()
    args.registry_url = args.registry_url.rstrip("/")
    if not args.registry_url.startswith(("http://", "https://")):
        parser.error("--registry-url must start with http:// or https://")
    args.state_dir = os.path.abspath(args.state_dir)
    os.makedirs(args.state_dir, exist_ok=True)
    return args


class Output:
    """Owns the real stdout (for the READY line) and the original stderr (for fatal
    start-up messages). fd 1 and fd 2 are redirected so that nothing a library prints
    can end up on stdout or fill an undrained stderr pipe."""

    def __init__(self, state_dir, log_to_stderr):
        sys.stdout.flush()
        sys.stderr.flush()
        self._ready = os.fdopen(os.dup(1), "w", buffering=1)
        self._orig_err = os.fdopen(os.dup(2), "w", buffering=1)
        self.log_path = os.path.join(state_dir, "server.log")
        self.extra = {}  # more keys for the READY line (e.g. the Docker Hub shim's address)
        if log_to_stderr:
            os.dup2(2, 1)
        else:
            fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
        # Re-open the Python-level streams on the redirected descriptors.
        sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
        sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)

    def ready(self, port, local_repository_id, pid=None):
        line = json.dumps({
            "ready": True,
            "port": int(port),
            "local_repository_id": local_repository_id,
            "pid": pid or os.getpid(),
            **self.extra,
        })
        log("READY %s", line)
        self._ready.write(line + "\n")
        self._ready.flush()

    def fatal(self, message):
        log("FATAL: %s", message, level="ERROR")
        try:
            self._orig_err.write(f"{os.path.basename(sys.argv[0])}: {message} (log: {self.log_path})\n")
            self._orig_err.flush()
        except Exception:
            pass


def merge_no_proxy():
    """Make sure loopback traffic (registry lookups) never goes through a proxy."""
    for key in ("NO_PROXY", "no_proxy"):
        parts = [p for p in os.environ.get(key, "").split(",") if p]
        for host in ("127.0.0.1", "localhost", "::1"):
            if host not in parts:
                parts.append(host)
        os.environ[key] = ",".join(parts)


def yaml_dump(data):
    """Tiny YAML writer (JSON is valid YAML); keeps the config file readable."""
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


# --------------------------------------------------------------------------- JWT


def unverified_jwt_claims(token):
    """Payload of a compact JWS without any signature check; None if not a JWT."""
    if not isinstance(token, str):
        return None
    parts = token.strip().split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except Exception:
        return None
    return claims if isinstance(claims, dict) else None


# --------------------------------------------------------------------------- recording


def unknown_field_numbers(message):
    """Field numbers present on the wire that `message`'s descriptor does not know
    (top level only). Works with the pure-python protobuf 3.20 implementation."""
    numbers = set()
    try:
        for field in message.UnknownFields():
            numbers.add(int(field.field_number))
    except Exception:
        # Fallback: raw (tag_bytes, value_bytes) pairs kept by the python impl.
        from google.protobuf.internal import decoder
        for tag_bytes, _ in getattr(message, "_unknown_fields", ()):
            tag, _pos = decoder._DecodeVarint(tag_bytes, 0)
            numbers.add(tag >> 3)
    return sorted(numbers)


class RequestRecorder:
    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()

    def record(self, full_method, request, metadata):
        service_full, _, method = full_method.lstrip("/").rpartition("/")
        meta = {}
        keys = []
        for key, value in metadata:
            if key not in keys:
                keys.append(key)
            meta.setdefault(key, value)
        token = meta.get("token")
        try:
            params = MessageToDict(request, preserving_proto_field_name=True)
        except Exception as e:  # never break the call because of recording
            params = {"__error__": f"MessageToDict failed: {e}"}
        rec = {
            "method": method,
            "service": service_full.rsplit(".", 1)[-1],
            "params": params,
            "unknown_fields": unknown_field_numbers(request),
            "metadata_keys": keys,
            "token_claims": unverified_jwt_claims(token) if token is not None else None,
            "rpc": full_method,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
        }
        line = json.dumps(rec, sort_keys=False, default=str)
        with self._lock:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()
        return rec


class RecordingInterceptor(grpc.ServerInterceptor):
    """Wraps every unary-unary handler: the deserialized request is recorded before
    the real behaviour runs. `pre_call(request, context, unknown_fields)` is an
    optional hook (used by the 2.x stand-in for trailing metadata / strict mode)."""

    def __init__(self, recorder, pre_call=None):
        self._recorder = recorder
        self._pre_call = pre_call

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        full_method = handler_call_details.method or ""
        if handler is None or handler.unary_unary is None:
            return handler
        if full_method.lstrip("/").startswith(_UNRECORDED_SERVICE_PREFIXES):
            return handler

        inner = handler.unary_unary
        recorder = self._recorder
        pre_call = self._pre_call

        def behavior(request, context):
            metadata = tuple(context.invocation_metadata() or ())
            if not any(k == INTERNAL_METADATA_KEY for k, _ in metadata):
                try:
                    recorder.record(full_method, request, metadata)
                except Exception as e:
                    log("failed to record request %s: %r", full_method, e, level="ERROR")
            if pre_call is not None:
                pre_call(request, context, unknown_field_numbers(request))
            return inner(request, context)

        return handler._replace(unary_unary=behavior)


# --------------------------------------------------------------------------- grpc.server patch


class _ServerProxy:
    """Delegates to the real grpc server; rewrites the bind address to 127.0.0.1."""

    def __init__(self, server, harness):
        self._server = server
        self._harness = harness

    def add_insecure_port(self, address):
        port = address.rsplit(":", 1)[-1]
        if self._harness.port is not None:
            port = self._harness.port
        bound = self._server.add_insecure_port(f"127.0.0.1:{port}")
        if bound == 0:
            raise RuntimeError(f"cannot bind 127.0.0.1:{port}")
        self._harness.bound_port = bound
        log("bind rewritten: %s -> 127.0.0.1:%s", address, bound)
        return bound

    def add_secure_port(self, address, credentials):
        raise RuntimeError("the loopback test harness serves plaintext only")

    def start(self):
        self._server.start()
        self._harness.started.set()

    def __getattr__(self, name):
        return getattr(self._server, name)


class Harness:
    def __init__(self, recorder, pre_call=None, port=None):
        self.recorder = recorder
        self.port = port  # overrides the port the framework asks for (0 = any free port)
        self.interceptor = RecordingInterceptor(recorder, pre_call)
        self.server = None
        self.bound_port = None
        self.started = threading.Event()
        self.stop_requested = threading.Event()
        self.exit_code = 0
        self._orig_server_factory = None

    def patch_grpc_server(self):
        orig = grpc.server
        self._orig_server_factory = orig
        harness = self

        signature = inspect.signature(orig)

        def server(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            params = bound.arguments
            params["interceptors"] = (harness.interceptor,) + tuple(params.get("interceptors") or ())
            # gRPC enables SO_REUSEPORT by default on Linux: a second server on a busy
            # port would silently share it. Fail instead.
            params["options"] = list(params.get("options") or ()) + [("grpc.so_reuseport", 0)]
            real = orig(*bound.args, **bound.kwargs)
            proxy = _ServerProxy(real, harness)
            harness.server = proxy
            if harness.stop_requested.is_set():
                real.stop(0)
            return proxy

        grpc.server = server

    def install_signal_handlers(self):
        def handler(signum, _frame):
            log("signal %s received, stopping", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def stop(self, exit_code=None, grace=1.0):
        if exit_code is not None:
            self.exit_code = exit_code
        self.stop_requested.set()
        if self.server is not None:
            self.server.stop(grace)

    def watch_stdin(self):
        """Stop the server once stdin is closed (parent gone or closed the pipe)."""
        def watcher():
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            log("stdin closed, stopping")
            self.stop()

        threading.Thread(target=watcher, name="stdin-watch", daemon=True).start()

    def wait_started(self, timeout=60):
        if not self.started.wait(timeout):
            raise RuntimeError("gRPC server did not start in time")
        return self.bound_port


def serve(harness, out, serve_forever, local_repository):
    """Serves until stopped, printing the READY line once the port answers.

    `local_repository(port)` returns the id to report (or None); a failure there stops
    the server with exit code 1. Both server generations end their `main` with this.
    """
    import traceback

    def after_start():
        try:
            port = harness.wait_started()
            out.ready(port, local_repository(port))
        except Exception as e:
            traceback.print_exc()
            out.fatal(f"start-up failed: {e}")
            harness.stop(exit_code=1, grace=0)

    threading.Thread(target=after_start, name="after-start", daemon=True).start()

    if harness.stop_requested.is_set():
        return harness.exit_code
    try:
        serve_forever()  # blocks until the server is stopped
    except Exception as e:
        traceback.print_exc()
        out.fatal(f"server failed: {e}")
        return 1
    log("server stopped (exit %s)", harness.exit_code)
    return harness.exit_code
