#!/usr/bin/env python3
"""Run the REAL SpaceONE 2.x repository service (cloudforet-io/repository 2.0.dev59, its
source unchanged, from ../shared/vendor) on 127.0.0.1 for integration tests.

Run with the v2real venv (setup-venvs.sh extracts the source next to it):
    .venvs/v2real/bin/python tests/servers/v2_real_server.py --source-root .venvs/v2real/src \
        --registry-url http://127.0.0.1:5000 --state-dir /tmp/state [--port 0]

The steps are those of the upstream Dockerfile's
`spaceone run grpc-server spaceone.repository -p PORT -c config.yml -s <source>/src`, with:
  * a config.yml merged over the service's own global_conf.py: in-memory MongoDB
    (mongomock), the handler set a 2.x deployment configures (the service's own names a
    class core 2.0.144 does not have), the authentication handler without identity
    (spaceone_v2_real_harness.py), REGISTRY_INFO / HarborConnector aimed at the loopback
    registry, and DOCKER_HUB at an HTTPS shim answering from that registry;
  * the harness's grpc.server() wrapper: bind 127.0.0.1 instead of [::], record every
    request to <state-dir>/requests.jsonl, unknown field numbers in trailing metadata
    `x-stub-unknown-fields` (SPACEONE_V2_STRICT=1 refuses them);
  * every other outbound HTTP(S) from the server process goes to a dead proxy.

stdout: exactly one line when ready:
  {"ready": true, "port": N, "local_repository_id": "repo-local", "pid": N, "dockerhub": "127.0.0.1:N"}
Everything else goes to <state-dir>/server.log. SIGTERM/SIGINT stop it cleanly (exit 0).
"""

import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
DISCARD_ENDPOINT = "grpc://127.0.0.1:9"


def source_root_from_argv():
    # Needed before `spaceone` is first imported: pkgutil.extend_path reads sys.path once.
    for i, arg in enumerate(sys.argv):
        if arg == "--source-root" and i + 1 < len(sys.argv):
            return os.path.abspath(sys.argv[i + 1])
        if arg.startswith("--source-root="):
            return os.path.abspath(arg.split("=", 1)[1])
    sys.stderr.write("v2_real_server.py: --source-root DIR (the service's src/) is required\n")
    sys.exit(2)


SOURCE_ROOT = source_root_from_argv()
sys.argv = [a for i, a in enumerate(sys.argv)
            if not (a == "--source-root" or a.startswith("--source-root=")
                    or (i > 0 and sys.argv[i - 1] == "--source-root"))]
sys.path.insert(0, SOURCE_ROOT)
sys.path.insert(0, HERE)

import _harness  # noqa: E402


def build_config(registry_url, dockerhub_hostport):
    hostport = registry_url.split("://", 1)[1].split("/", 1)[0]
    return {
        "GLOBAL": {
            "DATABASES": {
                "default": {
                    "engine": "MongoModel",
                    "db": "repository",
                    "host": "mongomock://localhost",
                    # core 2.x connects only when host, db and username are all set.
                    "username": "harness",
                    "password": "",
                },
            },
            "HANDLERS": {
                "authentication": [
                    {"backend": "spaceone_v2_real_harness:UnverifiedAuthenticationHandler"}
                ],
                "authorization": [
                    {"backend": "spaceone.core.handler.authorization_handler:SpaceONEAuthorizationHandler"}
                ],
                "mutation": [
                    {"backend": "spaceone.core.handler.mutation_handler:SpaceONEMutationHandler"}
                ],
                "event": [],
            },
            "REGISTRY_INFO": {
                "DOCKER_HUB": {"url": dockerhub_hostport},
                "HARBOR": {"url": hostport, "image_pull_secrets": ""},
            },
            "CONNECTORS": {
                "HarborConnector": {"base_url": registry_url, "token": "", "verify": False},
                "SpaceConnector": {"endpoints": {"identity": DISCARD_ENDPOINT}},
            },
        },
    }


def make_pre_call(strict):
    import grpc

    def pre_call(request, context, unknown):
        if not unknown:
            return
        numbers = ",".join(str(n) for n in unknown)
        context.set_trailing_metadata((("x-stub-unknown-fields", numbers),))
        if strict:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"ERROR_STUB_UNKNOWN_FIELDS: [harness strict mode] Request has fields unknown to "
                f"{request.DESCRIPTOR.full_name}. (field_numbers = {numbers})",
            )

    return pre_call


def main():
    args = _harness.parse_args("Real SpaceONE repository 2.x service on loopback")
    out = _harness.Output(args.state_dir, args.log_to_stderr)
    _harness.merge_no_proxy()
    strict = os.environ.get("SPACEONE_V2_STRICT", "") not in ("", "0", "false", "False")
    if not os.path.isdir(os.path.join(SOURCE_ROOT, "spaceone", "repository")):
        out.fatal(f"{SOURCE_ROOT} holds no spaceone/repository (the service's src/ directory)")
        return 2

    try:
        import spaceone_v2_real_harness as real

        shim = real.DockerHubShim(args.registry_url, args.state_dir, _harness.log)
        # Nothing but loopback: the registry and the shim are in NO_PROXY, the rest is dead.
        for key in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            os.environ[key] = "http://127.0.0.1:9"
        os.environ["REQUESTS_CA_BUNDLE"] = shim.cert

        import yaml

        config_path = os.path.join(args.state_dir, "config.yml")
        with open(config_path, "w") as f:
            yaml.safe_dump(build_config(args.registry_url, shim.hostport), f, sort_keys=False)

        recorder = _harness.RequestRecorder(os.path.join(args.state_dir, "requests.jsonl"))
        harness = _harness.Harness(recorder, pre_call=make_pre_call(strict), port=args.port)
        harness.patch_grpc_server()
        harness.install_signal_handlers()
        if args.exit_on_stdin_eof:
            harness.watch_stdin()

        from spaceone.core import command, pygrpc

        command._set_server_config(
            "spaceone.repository", SOURCE_ROOT, args.port or None, config_file=config_path
        )
        command._init_common_modules()
    except Exception as e:
        traceback.print_exc()
        out.fatal(f"configuration failed: {e}")
        return 2

    out.extra = {"dockerhub": shim.hostport}
    return _harness.serve(harness, out, pygrpc.serve, lambda _port: "repo-local")


if __name__ == "__main__":
    sys.exit(main())
