# The action's own image: a static binary, CA certificates and a shell (GitLab runs job
# scripts through /bin/sh). Built and published by .github/workflows/release.yml.
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked && cp target/release/spaceone-publish /spaceone-publish

FROM alpine:3.20
RUN apk add --no-cache ca-certificates git
COPY --from=build /spaceone-publish /usr/local/bin/spaceone-publish
WORKDIR /github/workspace
ENTRYPOINT ["/usr/local/bin/spaceone-publish"]
