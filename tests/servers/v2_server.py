#!/usr/bin/env python3
"""Run a SpaceONE repository 2.x STAND-IN on 127.0.0.1 for integration tests.

No 2.x repository service is published on PyPI, so this serves
spaceone.api.repository.v1.{Plugin,Repository} from the OFFICIAL 2.x stubs
(spaceone-api 2.0.435) with the OFFICIAL 2.x framework (spaceone-core 2.0.144:
GRPCServer, v1alpha reflection, health, ServerInfo, BaseAPI request parsing,
transaction pipeline, authorization + mutation handlers, MongoModel, error classes).
Stand-in parts (package v2_standin/): in-memory MongoModel storage (mongomock),
JWT decoded without signature check, one OCI registry for every registry_type.

Run with the v2 venv:  .venvs/v2/bin/python tests/servers/v2_server.py \
    --registry-url http://127.0.0.1:5000 --state-dir /tmp/state [--port 0]

stdout: exactly one line when ready:
  {"ready": true, "port": N, "local_repository_id": "repo-local", "pid": N}
Everything else goes to <state-dir>/server.log. SIGTERM/SIGINT stop it cleanly (exit 0).

Environment: SPACEONE_V2_STRICT=1 -> a request carrying field numbers the 2.x message
does not define fails with INVALID_ARGUMENT "ERROR_STUB_UNKNOWN_FIELDS: ...".
Unknown field numbers are always returned in trailing metadata x-stub-unknown-fields.
"""

import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _harness  # noqa: E402


PACKAGE = "v2_standin.repository"
DISCARD_ENDPOINT = "grpc://127.0.0.1:9"
REGISTRY_TYPES = ("DOCKER_HUB", "AWS_PRIVATE_ECR", "HARBOR", "GITHUB", "GCP_PRIVATE_GCR")


def build_config(registry_url, local_repository=True):
    hostport = registry_url.split("://", 1)[1].split("/", 1)[0]
    repositories = [
        {"repository_id": "repo-managed", "name": "Cloudforet Official", "repository_type": "MANAGED"},
    ]
    if local_repository:
        repositories.append({"repository_id": "repo-local", "name": "Private", "repository_type": "LOCAL"})
    return {
        "GLOBAL": {
            "REPOSITORIES": repositories,
            "REGISTRY_INFO": {t: {"url": hostport} for t in REGISTRY_TYPES},
            "CONNECTORS": {
                "OCIRegistryConnector": {"base_url": registry_url, "token": "", "verify": False},
                "SpaceConnector": {"endpoints": {"identity": DISCARD_ENDPOINT}},
            },
        },
    }


def make_pre_call(strict):
    import grpc
    from v2_standin.repository.error import ERROR_STUB_UNKNOWN_FIELDS

    def pre_call(request, context, unknown):
        if not unknown:
            return
        numbers = ",".join(str(n) for n in unknown)
        context.set_trailing_metadata((("x-stub-unknown-fields", numbers),))
        if strict:
            error = ERROR_STUB_UNKNOWN_FIELDS(
                message_type=request.DESCRIPTOR.full_name, field_numbers=numbers
            )
            context.abort(grpc.StatusCode[error.status_code], f"{error.error_code}: {error.message}")

    return pre_call


def main():
    args = _harness.parse_args("SpaceONE repository 2.x stand-in on loopback")
    out = _harness.Output(args.state_dir, args.log_to_stderr)
    _harness.merge_no_proxy()
    strict = os.environ.get("SPACEONE_V2_STRICT", "") not in ("", "0", "false", "False")

    import yaml

    config_path = os.path.join(args.state_dir, "config.yml")
    with open(config_path, "w") as f:
        yaml.safe_dump(build_config(args.registry_url, not args.no_local_repository), f, sort_keys=False)

    recorder = _harness.RequestRecorder(os.path.join(args.state_dir, "requests.jsonl"))
    try:
        harness = _harness.Harness(recorder, pre_call=make_pre_call(strict), port=args.port)
        harness.patch_grpc_server()
        harness.install_signal_handlers()
        if args.exit_on_stdin_eof:
            harness.watch_stdin()

        import mongomock
        from spaceone.core import command, config, pygrpc

        # Same steps as `spaceone run grpc-server v2_standin.repository -p PORT -c config.yml`,
        # plus the in-memory database client (a class cannot be written in YAML).
        command._set_server_config(PACKAGE, HERE, args.port or None, config_file=config_path)
        databases = config.get_global("DATABASES")
        databases["default"]["mongo_client_class"] = mongomock.MongoClient
        config.set_global_force(DATABASES=databases)
        command._init_common_modules()
    except Exception as e:
        traceback.print_exc()
        out.fatal(f"configuration failed: {e}")
        return 2

    def local_repository(_port):
        return None if args.no_local_repository else "repo-local"

    return _harness.serve(harness, out, pygrpc.serve, local_repository)


if __name__ == "__main__":
    sys.exit(main())
