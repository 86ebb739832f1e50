"""Test-only pieces the REAL 2.x repository service runs with (v2_real_server.py).

The service code is unchanged; these replace what a loopback test cannot have:

  * UnverifiedAuthenticationHandler: core 2.0.144's SpaceONEAuthenticationHandler without
    the identity service. Tokens are decoded without a signature check (identity holds the
    domain's public key) and App tokens get no permissions from App.check; every other
    step (empty token, undecodable token, missing `did`, `ver`, SYSTEM_TOKEN with
    x_domain_id, role meta) is core's own code.
  * DockerHubShim: an HTTPS server answering Docker Hub's tags web API
    (`GET /v2/repositories/<image>/tags`), which the service's DockerHubConnector calls
    with HTTPS hard-coded, from a local OCI registry's `tags/list`, in the registry's
    order. Its self-signed certificate is the server process's only REQUESTS_CA_BUNDLE.
"""

import json
import os
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from spaceone.core.auth.jwt import JWTUtil
from spaceone.core.error import ERROR_AUTHENTICATE_FAILURE
from spaceone.core.handler.authentication_handler import SpaceONEAuthenticationHandler


class UnverifiedAuthenticationHandler(SpaceONEAuthenticationHandler):
    def _initialize(self) -> None:
        self.identity_conn = None  # nothing is dialled

    def _authenticate(self, token: str, domain_id: str) -> dict:
        try:
            return JWTUtil.unverified_decode(token)
        except Exception:
            raise ERROR_AUTHENTICATE_FAILURE(message="failed to decode token.")

    def _check_app(self, client_id: str, domain_id: str):
        # An empty permission list makes core skip the per-permission check; `rol` still applies.
        return [], []


def self_signed_certificate(state_dir):
    """(cert, key) for 127.0.0.1, made with the openssl CLI."""
    cert = os.path.join(state_dir, "dockerhub-shim.crt")
    key = os.path.join(state_dir, "dockerhub-shim.key")
    if not (os.path.exists(cert) and os.path.exists(key)):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", key, "-out", cert],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
    return cert, key


class DockerHubShim:
    """Docker Hub's `GET /v2/repositories/<namespace>/<name>/tags` from an OCI registry."""

    def __init__(self, registry_url, state_dir, log):
        self.registry_url = registry_url.rstrip("/")
        self.cert, key = self_signed_certificate(state_dir)
        shim = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                prefix, suffix = "/v2/repositories/", "/tags"
                if not (path.startswith(prefix) and path.rstrip("/").endswith(suffix)):
                    return self._answer(404, {"message": "not found"})
                image = path[len(prefix):].rstrip("/")[: -len(suffix)]
                status, tags = shim.tags(image)
                if status != 200:
                    return self._answer(404, {"message": "object not found"})
                results = [{"name": t} for t in tags]
                self._answer(200, {"count": len(results), "next": None, "results": results})

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt, *args):
                log("dockerhub-shim: " + fmt, *args)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="dockerhub-shim", daemon=True).start()

    @property
    def hostport(self):
        return f"127.0.0.1:{self.port}"

    def tags(self, image):
        # The registry is on loopback: never through a proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"{self.registry_url}/v2/{image}/tags/list", timeout=10) as r:
                return 200, json.loads(r.read()).get("tags") or []
        except urllib.error.HTTPError as e:
            return e.code, []
