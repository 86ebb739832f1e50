#!/usr/bin/env python3
"""Run the REAL SpaceONE repository 1.x gRPC service (PyPI spaceone-repository 1.12.5,
framework spaceone-core 1.12.39) on 127.0.0.1 for integration tests.

Run with the v1 venv:  .venvs/v1/bin/python tests/servers/v1_server.py \
    --registry-url http://127.0.0.1:5000 --state-dir /tmp/state [--port 0]

The service code runs unmodified, in-process, through the core 1.12 CLI entry
(`spaceone grpc spaceone.repository -p PORT -c config.yml`). The only runtime
changes are in the harness: bind [::] -> 127.0.0.1 (and port 0 support), and an
interceptor that records each deserialized request to <state-dir>/requests.jsonl
before handing it to the unchanged servicer.

stdout: exactly one line when ready:
  {"ready": true, "port": N, "local_repository_id": "repo-...", "pid": N}
Everything else goes to <state-dir>/server.log. SIGTERM/SIGINT stop it cleanly (exit 0).
"""

import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness  # noqa: E402


# A port on 127.0.0.1 that nothing should listen on ("discard"); every outbound
# service-to-service endpoint points there so nothing is dialled off the machine.
DISCARD_ENDPOINT = "grpc://127.0.0.1:9"


def build_config(registry_url):
    hostport = registry_url.split("://", 1)[1].split("/", 1)[0]
    return {
        "GLOBAL": {
            "DATABASES": {
                "default": {
                    "db": "repository",
                    "host": "mongomock://localhost",
                    "username": "",
                    "password": "",
                },
            },
            "HANDLERS": {
                "authentication": [],
                "authorization": [],
                "mutation": [],
                "event": [],
            },
            "REGISTRY_URL_MAP": {
                # DOCKER_HUB must be non-empty; it points at a closed loopback port,
                # so a DOCKER_HUB registration fails fast instead of going online.
                "DOCKER_HUB": "127.0.0.1:9",
                "AWS_PRIVATE_ECR": "127.0.0.1:9",
                "HARBOR": hostport,
            },
            "CONNECTORS": {
                "HarborConnector": {
                    "base_url": registry_url,
                    "token": "",
                    "verify": False,
                },
                "SpaceConnector": {
                    "endpoints": {
                        "identity": DISCARD_ENDPOINT,
                        "secret": DISCARD_ENDPOINT,
                    },
                },
            },
        },
    }


def create_local_repository(port):
    import grpc
    from spaceone.api.repository.v1 import repository_pb2, repository_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = repository_pb2_grpc.RepositoryStub(channel)
        info = stub.register(
            repository_pb2.CreateRepositoryRequest(name="local", repository_type="local"),
            metadata=((_harness.INTERNAL_METADATA_KEY, "setup"),),
            timeout=30,
        )
        return info.repository_id


def main():
    args = _harness.parse_args("Real spaceone-repository 1.12.5 on loopback")
    out = _harness.Output(args.state_dir, args.log_to_stderr)
    _harness.merge_no_proxy()

    import yaml

    config_path = os.path.join(args.state_dir, "config.yml")
    with open(config_path, "w") as f:
        yaml.safe_dump(build_config(args.registry_url), f, sort_keys=False)

    recorder = _harness.RequestRecorder(os.path.join(args.state_dir, "requests.jsonl"))
    harness = _harness.Harness(recorder, port=args.port)
    harness.patch_grpc_server()
    harness.install_signal_handlers()
    if args.exit_on_stdin_eof:
        harness.watch_stdin()

    try:
        from spaceone.core import command, pygrpc

        # Same steps as `spaceone grpc spaceone.repository -p PORT -c config.yml`.
        command._set_server_config("spaceone.repository", None, args.port, config_file=config_path)
    except Exception as e:
        out.fatal(f"configuration failed: {e}")
        traceback.print_exc()
        return 2

    def local_repository(port):
        if args.no_local_repository:
            return None
        repo_id = create_local_repository(port)
        _harness.log("local repository: %s", repo_id)
        return repo_id

    return _harness.serve(harness, out, pygrpc.serve, local_repository)


if __name__ == "__main__":
    sys.exit(main())
