# The action's own image, ghcr.io/cloudforet-io/spaceone-publish (action.yml runs it as
# `docker://ghcr.io/cloudforet-io/spaceone-publish:v0`). It holds what every CI needs and
# nothing else:
#
#   - the static (musl) spaceone-publish binary, compiled by cargo *before* the image is
#     built, then copied in;
#   - /bin/sh (busybox, from alpine): GitLab runs a job's `script` through a shell inside
#     the job image (set `entrypoint: [""]` there, because ENTRYPOINT is the binary);
#   - CA certificates: alpine's base image already ships the `ca-certificates-bundle`
#     package (/etc/ssl/certs/ca-certificates.crt), so nothing has to be installed;
#   - root (no USER): a GitHub container action must write /github/workspace and the
#     /github/file_commands files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY), owned by the runner.
#
# There is deliberately no RUN. .github/workflows/release.yml builds and pushes this image
# with spaceone-publish itself (dogfooding). A RUN-less Dockerfile never executes the base
# image, so the tool builds it for any platform on any runner, with no QEMU, no daemon and
# no privileges, and reproducibly: the same binary gives the same digest. A compile stage
# here (`FROM rust` + `RUN cargo build`, or `RUN apk add …`) would need sandboxed RUN and a
# native runner per architecture, and would rebuild a binary the workflow has already built
# and tested.
#
# Size: alpine:3.20 is about 3.5 MB compressed (8 MB unpacked), the stripped binary about
# 9 MB (under 4 MB compressed): some 8 MB to pull, 17 MB on disk, within the 25 MB budget.
# release.yml fails if the binary grows past 16 MiB.
#
# Build it locally (x86_64), with the tool or with Docker:
#   cargo build --release --locked --target x86_64-unknown-linux-musl
#   PUBLISH_OUTPUT=oci:oci-layout target/x86_64-unknown-linux-musl/release/spaceone-publish
#   docker build -t spaceone-publish .
#
# BASE lets a mirror (or the tests, which have no Docker Hub) substitute alpine: any base
# with /bin/sh and /etc/ssl/certs/ca-certificates.crt will do.
ARG BASE=alpine:3.20
FROM ${BASE}

# The prebuilt binary for this image's platform; the release workflow passes the
# aarch64 one when it builds linux/arm64.
ARG BINARY=target/x86_64-unknown-linux-musl/release/spaceone-publish
COPY --chmod=0755 ${BINARY} /usr/local/bin/spaceone-publish

# `docker run -v "$PWD:/workspace"` works without -w; GitHub and GitLab set their own.
WORKDIR /workspace
ENTRYPOINT ["/usr/local/bin/spaceone-publish"]
