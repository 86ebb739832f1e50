#!/usr/bin/env python3
"""End-to-end smoke test of a loopback SpaceONE repository test server.

Run it with the venv of the generation to test; it detects the generation from the
installed spaceone-api stubs and starts the matching server with the same interpreter:

    .venvs/v1/bin/python tests/servers/smoke.py     # real spaceone-repository 1.12.5
    .venvs/v2/bin/python tests/servers/smoke.py     # 2.x stand-in

Steps: start docker-registry (Debian package, CNCF distribution 2.8) on a free loopback
port with filesystem storage in a temp dir; push a tiny OCI image
cloudforet/plugin-smoke-inven-collector:1.0.0 with plain HTTP PUTs; start the server;
register / get_versions / duplicate / error paths / deregister; check requests.jsonl
(including unknown-field detection with a hand-made extra field); SIGTERM the server
and expect exit status 0. Exit status of smoke.py: 0 = all checks passed.

Options: --keep (leave the temp dir), --verbose (print server.log at the end).
"""

import argparse
import base64
import gzip
import hashlib
import io
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request

import grpc
from google.protobuf import struct_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = "cloudforet/plugin-smoke-inven-collector"
PLUGIN_ID = "plugin-smoke-inven-collector"
TAG = "1.0.0"
DOMAIN = "domain-smoke"

# --------------------------------------------------------------------------- utilities

_results = []
_servers = []


def check(name, cond, detail=""):
    _results.append((name, bool(cond)))
    if hasattr(detail, "DESCRIPTOR"):
        from google.protobuf.json_format import MessageToDict
        detail = json.dumps(MessageToDict(detail, preserving_proto_field_name=True))
    print(f"{'PASS' if cond else 'FAIL'}  {name}" + (f"  [{detail}]" if detail and not cond else ""), flush=True)
    return cond


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def fake_jwt(claims):
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{b64(claims)}.c21va2Utc2lnbmF0dXJl"


def struct(d):
    s = struct_pb2.Struct()
    s.update(d)
    return s


def list_value(items):
    lv = struct_pb2.ListValue()
    lv.extend(items)
    return lv


def rpc_error(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except grpc.RpcError as e:
        return e
    return None


# --------------------------------------------------------------------------- registry


class Registry:
    def __init__(self, workdir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = os.path.join(workdir, "registry")
        os.makedirs(os.path.join(self.dir, "data"))
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write(
                "version: 0.1\n"
                "log:\n  level: warn\n"
                "storage:\n  filesystem:\n    rootdirectory: " + os.path.join(self.dir, "data") + "\n"
                "  delete:\n    enabled: true\n"
                "http:\n  addr: 127.0.0.1:%d\n" % self.port
            )
        binary = os.environ.get("DOCKER_REGISTRY_BIN") or shutil.which("docker-registry") or "/usr/bin/docker-registry"
        self.log = open(os.path.join(self.dir, "registry.log"), "w")
        self.proc = subprocess.Popen([binary, "serve", self.config], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if http("GET", self.url + "/v2/")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"docker-registry did not start (see {self.dir}/registry.log)")

    def _blob(self, repo, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, headers, body = http("POST", f"{self.url}/v2/{repo}/blobs/uploads/")
        if status != 202:
            raise RuntimeError(f"blob upload start: HTTP {status} {body[:200]}")
        location = headers.get("Location")
        if location.startswith("/"):
            location = self.url + location
        sep = "&" if "?" in location else "?"
        status, _, body = http("PUT", f"{location}{sep}digest={digest}", data=data,
                               headers={"Content-Type": "application/octet-stream"})
        if status != 201:
            raise RuntimeError(f"blob upload: HTTP {status} {body[:200]}")
        return digest

    def push_tiny_image(self, repo, tag):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            content = b"spaceone-publish smoke\n"
            info = tarfile.TarInfo("smoke.txt")
            info.size = len(content)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
        layer_tar = raw.getvalue()
        layer = gzip.compress(layer_tar, mtime=0)
        config = json.dumps({
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
        }).encode()
        config_digest = self._blob(repo, config)
        layer_digest = self._blob(repo, layer)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": layer_digest, "size": len(layer)}],
        }).encode()
        status, _, body = http("PUT", f"{self.url}/v2/{repo}/manifests/{tag}", data=manifest,
                               headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        if status != 201:
            raise RuntimeError(f"manifest put: HTTP {status} {body[:300]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


# --------------------------------------------------------------------------- server


class Server:
    def __init__(self, script, registry_url, state_dir, env=None, extra_args=()):
        self.state_dir = state_dir
        cmd = [sys.executable, os.path.join(HERE, script), "--port", "0",
               "--registry-url", registry_url, "--state-dir", state_dir, "--exit-on-stdin-eof", *extra_args]
        # stdin stays open while smoke.py lives: the server dies with us (--exit-on-stdin-eof).
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        _servers.append(self.proc)
        lines = queue.Queue()

        def reader():
            for l in self.proc.stdout:
                lines.put(l)

        self._reader = threading.Thread(target=reader, daemon=True)
        self._reader.start()
        try:
            line = lines.get(timeout=120)
        except queue.Empty:
            self.proc.kill()
            raise RuntimeError(f"no READY line within 120 s; see {state_dir}/server.log")
        self.ready_line = line.rstrip("\n")
        self.ready = json.loads(self.ready_line)
        self.port = self.ready["port"]
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self._lines = lines

    def records(self):
        path = os.path.join(self.state_dir, "requests.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]

    def raw_call(self, method, payload, metadata=()):
        """Send arbitrary bytes as the request of `method`; returns (response bytes, trailing md)."""
        call = self.channel.unary_unary(method, request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
        resp, c = call.with_call(payload, metadata=metadata, timeout=30)
        return resp, dict(c.trailing_metadata() or ())

    def stop(self, via_stdin=False):
        self.channel.close()
        if via_stdin:
            self.proc.stdin.close()
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "killed after timeout"
        self._reader.join(5)
        extra = []
        while not self._lines.empty():
            extra.append(self._lines.get_nowait())
        return rc, extra


def extra_field(number, text):
    """Wire bytes of a length-delimited field `number` (unknown to the message)."""
    def varint(n):
        out = b""
        while True:
            b = n & 0x7F
            n >>= 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out
    data = text.encode()
    return varint((number << 3) | 2) + varint(len(data)) + data


def check_common(server, gen):
    """Reflection (v1alpha only) and health, the same on both generations."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(server.channel)
    resp = next(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=30))
    names = sorted(s.name for s in resp.list_services_response.service)
    check(f"{gen}: reflection v1alpha lists Plugin", "spaceone.api.repository.v1.Plugin" in names, names)
    call = server.channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                        request_serializer=lambda b: b, response_deserializer=lambda b: b)
    err = rpc_error(lambda: list(call(iter([b""]), timeout=10)))
    check(f"{gen}: reflection v1 is UNIMPLEMENTED", err is not None and err.code() == grpc.StatusCode.UNIMPLEMENTED,
          err and err.code())
    health = health_pb2_grpc.HealthStub(server.channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    check(f"{gen}: health SERVING", health.status == health_pb2.HealthCheckResponse.SERVING, health)


def check_records(server, gen, secret):
    recs = server.records()
    check(f"{gen}: requests.jsonl has records", len(recs) > 0)
    required = {"method", "service", "params", "unknown_fields", "metadata_keys", "token_claims"}
    check(f"{gen}: every record has the documented keys", all(required <= set(r) for r in recs))
    with open(os.path.join(server.state_dir, "requests.jsonl")) as f:
        text = f.read()
    check(f"{gen}: no token written to requests.jsonl", secret not in text)
    return recs


# --------------------------------------------------------------------------- v1


def smoke_v1(workdir, registry):
    from spaceone.api.repository.v1 import plugin_pb2, plugin_pb2_grpc

    state = os.path.join(workdir, "state-v1")
    server = Server("v1_server.py", registry.url, state)
    print(f"READY line: {server.ready_line}")
    check("v1: READY line format", set(server.ready) == {"ready", "port", "local_repository_id", "pid"}
          and server.ready["ready"] is True and str(server.ready["local_repository_id"]).startswith("repo-"))
    check_common(server, "v1")

    stub = plugin_pb2_grpc.PluginStub(server.channel)
    token = fake_jwt({"did": DOMAIN, "rol": "DOMAIN_ADMIN", "typ": "ACCESS_TOKEN", "ver": "2.0"})
    md = (("token", token),)
    req = plugin_pb2.CreatePluginRequest(
        name="Smoke collector", service_type="inventory.Collector", image=IMAGE, provider="aws",
        registry_type=plugin_pb2.HARBOR, capability=struct({"supported_schema": ["aws_access_key"]}),
        template=struct({"options": {}}), labels=list_value(["smoke", "test"]), tags=struct({"team": "ci"}),
        domain_id=DOMAIN,
    )
    info = stub.register(req, metadata=md, timeout=60)
    check("v1: register ok", info.plugin_id == PLUGIN_ID
          and info.DESCRIPTOR.fields_by_name["state"].enum_type.values_by_number[info.state].name == "ENABLED",
          info)
    check("v1: registered into the local repository",
          info.repository_info.repository_id == server.ready["local_repository_id"], info.repository_info)
    check("v1: registry_type HARBOR echoed", info.registry_type == plugin_pb2.HARBOR)

    versions = stub.get_versions(plugin_pb2.RepositoryPluginRequest(plugin_id=PLUGIN_ID, domain_id=DOMAIN),
                                 metadata=md, timeout=60)
    check("v1: get_versions lists 1.0.0", list(versions.results) == [TAG], list(versions.results))

    err = rpc_error(stub.register, req, metadata=md, timeout=60)
    check("v1: second register -> ALREADY_EXISTS ERROR_SAVE_UNIQUE_VALUES",
          err is not None and err.code() == grpc.StatusCode.ALREADY_EXISTS
          and err.details().startswith("ERROR_SAVE_UNIQUE_VALUES:"), err and (err.code(), err.details()))

    bad = plugin_pb2.CreatePluginRequest(name="x", service_type="inventory.Collector",
                                         image="cloudforet/plugin_bad_name", registry_type=plugin_pb2.HARBOR,
                                         domain_id=DOMAIN)
    err = rpc_error(stub.register, bad, timeout=60)
    check("v1: '_' in image -> INVALID_ARGUMENT ERROR_INVALID_IMAGE_NAME_FORMAT",
          err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
          and err.details().startswith("ERROR_INVALID_IMAGE_NAME_FORMAT:"), err and err.details())

    missing = plugin_pb2.CreatePluginRequest(name="x", service_type="inventory.Collector",
                                             image="cloudforet/plugin-not-pushed", registry_type=plugin_pb2.HARBOR,
                                             domain_id=DOMAIN)
    err = rpc_error(stub.register, missing, timeout=60)
    check("v1: unpushed image -> INTERNAL ERROR_NO_IMAGE_IN_REGISTRY",
          err is not None and err.code() == grpc.StatusCode.INTERNAL
          and err.details().startswith("ERROR_NO_IMAGE_IN_REGISTRY:"), err and err.details())
    listed = stub.list(plugin_pb2.PluginQuery(domain_id=DOMAIN), timeout=60)
    check("v1: failed register rolled back", [p.plugin_id for p in listed.results] == [PLUGIN_ID],
          [p.plugin_id for p in listed.results])

    # An extra field number the 1.x message does not define must show up in the record.
    payload = plugin_pb2.GetRepositoryPluginRequest(plugin_id=PLUGIN_ID, domain_id=DOMAIN).SerializeToString()
    server.raw_call("/spaceone.api.repository.v1.Plugin/get", payload + extra_field(99, "extra"))

    stub.deregister(plugin_pb2.PluginRequest(plugin_id=PLUGIN_ID, domain_id=DOMAIN), metadata=md, timeout=60)
    err = rpc_error(stub.deregister, plugin_pb2.PluginRequest(plugin_id=PLUGIN_ID, domain_id=DOMAIN), timeout=60)
    check("v1: second deregister -> NOT_FOUND ERROR_NOT_FOUND",
          err is not None and err.code() == grpc.StatusCode.NOT_FOUND and err.details().startswith("ERROR_NOT_FOUND:"),
          err and err.details())

    recs = check_records(server, "v1", token)
    reg = [r for r in recs if r["service"] == "Plugin" and r["method"] == "register"]
    check("v1: register records (2 ok/dup + 2 errors)", len(reg) == 4, len(reg))
    if reg:
        p = reg[0]["params"]
        check("v1: register params under their own names",
              p.get("service_type") == "inventory.Collector" and p.get("image") == IMAGE
              and p.get("registry_type") == "HARBOR" and p.get("domain_id") == DOMAIN
              and p.get("labels") == ["smoke", "test"] and p.get("tags") == {"team": "ci"}
              and p.get("capability") == {"supported_schema": ["aws_access_key"]}, p)
        check("v1: register record has no unknown fields", reg[0]["unknown_fields"] == [], reg[0]["unknown_fields"])
        check("v1: token claims recorded (unverified)", (reg[0]["token_claims"] or {}).get("did") == DOMAIN)
        check("v1: metadata_keys include token", "token" in reg[0]["metadata_keys"], reg[0]["metadata_keys"])
    raw = [r for r in recs if r["method"] == "get" and r["unknown_fields"]]
    check("v1: unknown field 99 detected", bool(raw) and raw[0]["unknown_fields"] == [99]
          and raw[0]["params"] == {"plugin_id": PLUGIN_ID, "domain_id": DOMAIN}, raw)
    check("v1: harness-internal Repository.register not recorded",
          not any(r["service"] == "Repository" for r in recs))

    rc, extra = server.stop()
    check("v1: exit 0 on SIGTERM", rc == 0, rc)
    check("v1: stdout carried only the READY line", extra == [], extra)


# --------------------------------------------------------------------------- v2


def smoke_v2(workdir, registry):
    from spaceone.api.repository.v1 import plugin_pb2, plugin_pb2_grpc, repository_pb2, repository_pb2_grpc

    state = os.path.join(workdir, "state-v2")
    server = Server("v2_server.py", registry.url, state)
    print(f"READY line: {server.ready_line}")
    check("v2: READY line format", set(server.ready) == {"ready", "port", "local_repository_id", "pid"}
          and server.ready["local_repository_id"] == "repo-local")
    check_common(server, "v2")

    stub = plugin_pb2_grpc.PluginStub(server.channel)
    admin = fake_jwt({"did": DOMAIN, "rol": "DOMAIN_ADMIN", "typ": "ACCESS_TOKEN", "own": "USER",
                      "aud": "smoke@example.com", "ver": "2.0"})
    md = (("token", admin),)
    req = plugin_pb2.RegisterPluginRequest(
        name="Smoke collector", resource_type="inventory.Collector", image=IMAGE, provider="aws",
        registry_type=plugin_pb2.HARBOR, capability=struct({"supported_schema": ["aws_access_key"]}),
        labels=list_value(["smoke", "test"]), tags=struct({"team": "ci"}), docs=struct({"readme": "x"}),
    )

    def expect(name, fn, request, code, prefix, metadata=md):
        err = rpc_error(fn, request, metadata=metadata, timeout=60)
        check(f"v2: {name}", err is not None and err.code() == code and err.details().startswith(prefix),
              err and (err.code(), err.details()))
        return err

    expect("no token -> UNAUTHENTICATED empty token", stub.register, req, grpc.StatusCode.UNAUTHENTICATED,
           "ERROR_AUTHENTICATE_FAILURE: Authenticate failure. (message = empty token provided.)", metadata=())
    expect("non-JWT -> failed to decode token", stub.register, req, grpc.StatusCode.UNAUTHENTICATED,
           "ERROR_AUTHENTICATE_FAILURE: Authenticate failure. (message = failed to decode token.)",
           metadata=(("token", "not-a-jwt"),))
    old = fake_jwt({"did": DOMAIN, "rol": "DOMAIN_ADMIN", "typ": "ACCESS_TOKEN", "ver": "1.0"})
    expect("ver 1.0 -> invalid token version", stub.register, req, grpc.StatusCode.UNAUTHENTICATED,
           "ERROR_AUTHENTICATE_FAILURE: Authenticate failure. (message = invalid token version.)",
           metadata=(("token", old),))
    user = fake_jwt({"did": DOMAIN, "rol": "USER", "typ": "ACCESS_TOKEN", "own": "USER", "ver": "2.0"})
    expect("role USER -> PERMISSION_DENIED", stub.register, req, grpc.StatusCode.PERMISSION_DENIED,
           "ERROR_PERMISSION_DENIED: Permission denied.", metadata=(("token", user),))

    info = stub.register(req, metadata=md, timeout=60)
    check("v2: register ok", info.plugin_id == PLUGIN_ID and info.domain_id == DOMAIN
          and info.state == plugin_pb2.PluginInfo.ENABLED, info)
    check("v2: registered into repo-local", info.repository_info.repository_id == "repo-local", info.repository_info)

    versions = stub.get_versions(plugin_pb2.RepositoryPluginRequest(plugin_id=PLUGIN_ID), metadata=md, timeout=60)
    check("v2: get_versions lists 1.0.0", list(versions.results) == [TAG], list(versions.results))

    expect("second register -> ALREADY_EXISTS ERROR_SAVE_UNIQUE_VALUES", stub.register, req,
           grpc.StatusCode.ALREADY_EXISTS,
           "ERROR_SAVE_UNIQUE_VALUES: Tried to save duplicate unique values. (keys = ['plugin_id', 'domain_id'])")
    expect("'_' in image -> ERROR_INVALID_IMAGE_NAME_FORMAT", stub.register,
           plugin_pb2.RegisterPluginRequest(name="x", resource_type="inventory.Collector",
                                            image="cloudforet/plugin_bad_name"),
           grpc.StatusCode.INVALID_ARGUMENT, "ERROR_INVALID_IMAGE_NAME_FORMAT:")
    expect("49-char image -> ERROR_INVALID_IMAGE_LENGTH", stub.register,
           plugin_pb2.RegisterPluginRequest(name="x", resource_type="inventory.Collector",
                                            image="cloudforet/" + "a" * 49),
           grpc.StatusCode.INVALID_ARGUMENT, "ERROR_INVALID_IMAGE_LENGTH:")
    expect("unpushed image -> INTERNAL ERROR_NO_IMAGE_IN_REGISTRY", stub.register,
           plugin_pb2.RegisterPluginRequest(name="x", resource_type="inventory.Collector",
                                            image="cloudforet/plugin-not-pushed", registry_type=plugin_pb2.HARBOR),
           grpc.StatusCode.INTERNAL,
           "ERROR_NO_IMAGE_IN_REGISTRY: Image does not found. (registry_type = HARBOR, image = cloudforet/plugin-not-pushed)")
    listed = stub.list(plugin_pb2.PluginQuery(), metadata=md, timeout=60)
    check("v2: failed register rolled back", [p.plugin_id for p in listed.results] == [PLUGIN_ID],
          [p.plugin_id for p in listed.results])

    upd = stub.update(plugin_pb2.UpdatePluginRequest(plugin_id=PLUGIN_ID, name="Smoke 2",
                                                     labels=list_value(["x"])), metadata=md, timeout=60)
    check("v2: update name/labels", upd.name == "Smoke 2" and list(upd.labels) == ["x"], upd)
    dis = stub.disable(plugin_pb2.PluginRequest(plugin_id=PLUGIN_ID), metadata=md, timeout=60)
    en = stub.enable(plugin_pb2.PluginRequest(plugin_id=PLUGIN_ID), metadata=md, timeout=60)
    check("v2: disable/enable", dis.state == plugin_pb2.PluginInfo.DISABLED and en.state == plugin_pb2.PluginInfo.ENABLED)
    got = stub.get(plugin_pb2.RepositoryPluginRequest(plugin_id=PLUGIN_ID, repository_id="repo-local"),
                   metadata=(("token", user),), timeout=60)
    check("v2: get as USER", got.plugin_id == PLUGIN_ID and got.docs["readme"] == "x", got)
    system = fake_jwt({"did": "domain-root", "typ": "SYSTEM_TOKEN", "own": "SYSTEM", "ver": "2.0"})
    got = stub.get(plugin_pb2.RepositoryPluginRequest(plugin_id=PLUGIN_ID),
                   metadata=(("token", system), ("x_domain_id", DOMAIN)), timeout=60)
    check("v2: SYSTEM_TOKEN + x_domain_id", got.plugin_id == PLUGIN_ID)
    other = fake_jwt({"did": "domain-other", "rol": "DOMAIN_ADMIN", "typ": "ACCESS_TOKEN", "ver": "2.0"})
    expect("other domain -> ERROR_NO_PLUGIN", stub.get, plugin_pb2.RepositoryPluginRequest(plugin_id=PLUGIN_ID),
           grpc.StatusCode.INVALID_ARGUMENT, "ERROR_NO_PLUGIN:", metadata=(("token", other),))

    repos = repository_pb2_grpc.RepositoryStub(server.channel).list(repository_pb2.RepositoryQuery(),
                                                                     metadata=md, timeout=60)
    check("v2: Repository.list", sorted((r.repository_id, r.repository_type) for r in repos.results)
          == [("repo-local", "LOCAL"), ("repo-managed", "MANAGED")], repos)

    payload = plugin_pb2.RepositoryPluginRequest(plugin_id=PLUGIN_ID).SerializeToString()
    _, trailing = server.raw_call("/spaceone.api.repository.v1.Plugin/get", payload + extra_field(99, "extra"), md)
    check("v2: trailing x-stub-unknown-fields", trailing.get("x-stub-unknown-fields") == "99", trailing)

    stub.deregister(plugin_pb2.PluginRequest(plugin_id=PLUGIN_ID), metadata=md, timeout=60)
    expect("second deregister -> NOT_FOUND ERROR_NOT_FOUND", stub.deregister,
           plugin_pb2.PluginRequest(plugin_id=PLUGIN_ID), grpc.StatusCode.NOT_FOUND, "ERROR_NOT_FOUND:")

    recs = check_records(server, "v2", admin)
    reg = [r for r in recs if r["service"] == "Plugin" and r["method"] == "register"
           and (r["token_claims"] or {}).get("rol") == "DOMAIN_ADMIN" and r["params"].get("image") == IMAGE
           and (r["token_claims"] or {}).get("ver") == "2.0"]
    check("v2: register records present", len(reg) == 2, len(reg))
    if reg:
        p = reg[0]["params"]
        check("v2: register params under their own names",
              p.get("resource_type") == "inventory.Collector" and p.get("registry_type") == "HARBOR"
              and p.get("labels") == ["smoke", "test"] and p.get("tags") == {"team": "ci"}
              and p.get("capability") == {"supported_schema": ["aws_access_key"]} and p.get("docs") == {"readme": "x"}
              and "domain_id" not in p, p)
        check("v2: token claims recorded", reg[0]["token_claims"].get("did") == DOMAIN)
    raw = [r for r in recs if r["method"] == "get" and r["unknown_fields"]]
    check("v2: unknown field 99 detected", bool(raw) and raw[0]["unknown_fields"] == [99], raw)
    rc, extra = server.stop()
    check("v2: exit 0 on SIGTERM", rc == 0, rc)
    check("v2: stdout carried only the READY line", extra == [], extra)

    # Strict mode: unknown fields are rejected.
    strict = Server("v2_server.py", registry.url, os.path.join(workdir, "state-v2-strict"),
                    env={"SPACEONE_V2_STRICT": "1"})
    err = rpc_error(strict.raw_call, "/spaceone.api.repository.v1.Plugin/get",
                    payload + extra_field(99, "extra"), md)
    check("v2 strict: unknown field -> INVALID_ARGUMENT ERROR_STUB_UNKNOWN_FIELDS",
          err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
          and err.details().startswith("ERROR_STUB_UNKNOWN_FIELDS:"), err and err.details())
    rc, _ = strict.stop(via_stdin=True)
    check("v2 strict: exit 0 when stdin is closed (--exit-on-stdin-eof)", rc == 0, rc)


# --------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--verbose", action="store_true", help="print server.log(s) at the end")
    args = ap.parse_args()

    from spaceone.api.repository.v1 import plugin_pb2
    gen = "v1" if hasattr(plugin_pb2, "CreatePluginRequest") else "v2"
    print(f"generation: {gen} (python {sys.executable})", flush=True)

    workdir = tempfile.mkdtemp(prefix=f"spaceone-smoke-{gen}-")
    registry = None
    t0 = time.time()
    try:
        registry = Registry(workdir)
        registry.push_tiny_image(IMAGE, TAG)
        status, _, body = http("GET", f"{registry.url}/v2/{IMAGE}/tags/list")
        check("registry: image pushed", status == 200 and json.loads(body).get("tags") == [TAG], body)
        (smoke_v1 if gen == "v1" else smoke_v2)(workdir, registry)
    except Exception as e:
        import traceback
        traceback.print_exc()
        check(f"{gen}: smoke ran to completion", False, repr(e))
    finally:
        for proc in _servers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if registry:
            registry.stop()
        if args.verbose:
            for root, _, files in os.walk(workdir):
                for name in files:
                    if name == "server.log":
                        print(f"----- {os.path.join(root, name)}")
                        print(open(os.path.join(root, name)).read()[-20000:])
        failed = [n for n, ok in _results if not ok]
        print(f"{gen}: {len(_results) - len(failed)}/{len(_results)} checks passed in {time.time() - t0:.1f}s"
              + (f"; FAILED: {failed}" if failed else ""))
        if args.keep or failed:
            print(f"artifacts kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
