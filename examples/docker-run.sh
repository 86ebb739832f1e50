#!/usr/bin/env bash
# spaceone-publish with plain `docker run`: the image, the context mounted at /workspace,
# inputs as PUBLISH_* variables.
#
#   examples/docker-run.sh oci   [CONTEXT]   build into CONTEXT/oci-layout: no registry, no SpaceONE
#   examples/docker-run.sh local [CONTEXT]   start a throw-away registry on localhost:5000 and push there
#   examples/docker-run.sh push  [CONTEXT]   push to $PUBLISH_IMAGE; register too when
#                                            $PUBLISH_SPACEONE_ENDPOINT is set
#
# CONTEXT defaults to the example plugin beside this script. Every PUBLISH_* variable of
# your shell is passed on, so any input can be given the same way, e.g.
#
#   PUBLISH_IMAGE=registry.example.com/cloudforet/plugin-aws-ec2-inven-collector \
#   PUBLISH_REGISTRY_USERNAME=me PUBLISH_REGISTRY_PASSWORD="$TOKEN" \
#   PUBLISH_SPACEONE_ENDPOINT=grpc+ssl://repository.api.example.com:443 \
#   PUBLISH_SPACEONE_TOKEN="$SPACEONE_TOKEN" \
#     examples/docker-run.sh push ~/src/plugin-aws-ec2-inven-collector
#
# Environment: TOOL_IMAGE (default ghcr.io/cloudforet-io/spaceone-publish:v0),
# REGISTRY_IMAGE (the `local` mode's registry, default registry:2).
# Exit status: the tool's (0 done, 2 bad input, 3 build, 4 registry, 5 SpaceONE).
set -euo pipefail

TOOL_IMAGE="${TOOL_IMAGE:-ghcr.io/cloudforet-io/spaceone-publish:v0}"
REGISTRY_IMAGE="${REGISTRY_IMAGE:-registry:2}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

mode="${1:-oci}"
context="$(cd "${2:-$here/plugin-example-inven-collector}" && pwd)"

die() { echo "docker-run.sh: $*" >&2; exit 2; }
command -v docker >/dev/null || die "docker is not installed"

args=(
  run --rm
  # The context is the working directory; COPY and ADD read from it, outputs land in it.
  -v "$context:/workspace" -w /workspace
  # Files the tool writes (oci-layout/, the dotenv file) belong to you, not to root.
  # HOME must then be writable: the tool keeps its cache under $HOME/.cache.
  --user "$(id -u):$(id -g)" -e HOME=/tmp
)

# The image carries no git: compute from the host what the tool would read from git,
# so the digest stays reproducible (file times and `created` from the commit) and a
# tagged commit publishes its tag's version.
if git -C "$context" rev-parse --git-dir >/dev/null 2>&1; then
  : "${PUBLISH_SOURCE_DATE_EPOCH:=$(git -C "$context" log -1 --format=%ct)}"
  export PUBLISH_SOURCE_DATE_EPOCH
  if tag="$(git -C "$context" describe --tags --exact-match HEAD 2>/dev/null)"; then
    : "${PUBLISH_VERSION:=${tag#v}}"
    export PUBLISH_VERSION
  fi
fi

# Docker's credentials, read-only. Credential helpers (credsStore: desktop, osxkeychain…)
# do not exist inside the container: use PUBLISH_REGISTRY_USERNAME/PASSWORD then.
if [[ -f "${DOCKER_CONFIG:-$HOME/.docker}/config.json" ]]; then
  args+=(-v "${DOCKER_CONFIG:-$HOME/.docker}/config.json:/tmp/.docker/config.json:ro"
         -e DOCKER_CONFIG=/tmp/.docker)
fi

case "$mode" in
  oci)
    # An OCI image layout instead of a registry: inspect it with
    # `skopeo inspect oci:oci-layout:<version>`, copy it anywhere with `skopeo copy`.
    export PUBLISH_OUTPUT="${PUBLISH_OUTPUT:-oci:oci-layout}"
    ;;
  local)
    # A registry on the host's loopback. --network host lets the container reach it as
    # localhost:5000, and loopback registries may be plain HTTP without further ado.
    name="spaceone-publish-registry-$$"
    docker run -d --rm --name "$name" -p 127.0.0.1:5000:5000 "$REGISTRY_IMAGE" >/dev/null
    trap 'docker stop "$name" >/dev/null' EXIT
    for _ in $(seq 50); do
      curl -fsS http://127.0.0.1:5000/v2/ >/dev/null 2>&1 && break
      sleep 0.2
    done
    args+=(--network host)
    export PUBLISH_IMAGE="${PUBLISH_IMAGE:-localhost:5000/spaceone/$(basename "$context")}"
    # One JSON object on stdout, for scripts (progress and notes go to stderr).
    export PUBLISH_OUTPUT_FORMAT="${PUBLISH_OUTPUT_FORMAT:-json}"
    ;;
  push)
    [[ -n "${PUBLISH_IMAGE:-}" ]] || die "push: set PUBLISH_IMAGE (host/namespace/plugin-name)"
    # A registry or SpaceONE on this machine (localhost) is reachable only on the host network.
    case "${PUBLISH_IMAGE}${PUBLISH_SPACEONE_ENDPOINT:-}" in
      *localhost* | *127.0.0.1*) args+=(--network host) ;;
    esac
    ;;
  *)
    die "unknown mode \`$mode\` (oci, local or push)"
    ;;
esac

# Pass every PUBLISH_* variable by name (the value never appears on a command line).
while IFS= read -r var; do
  args+=(-e "$var")
done < <(compgen -e | grep '^PUBLISH_' || true)

set -x
docker "${args[@]}" "$TOOL_IMAGE"
