# syntax=docker/dockerfile:1
#
# paybridge: one static binary, `bridge`, in a distroless non-root image.
#
#   docker build -t paybridge --build-arg VERSION=$(git describe --always) .
#   docker run -p 8080:8080 -e BRIDGE_MASTER_KEY=... paybridge            # serve, SQLite in /data
#   docker run paybridge migrate                                           # other subcommands
#
# See docker-compose.yml for web + worker + PostgreSQL + Redis.

# The Go of go.mod's toolchain line: older 1.26 releases have standard
# library vulnerabilities govulncheck reports (scripts/test checks).
FROM golang:1.26.10 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# Dependencies first, so source edits do not re-download modules.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /bridge ./cmd/bridge
# A data directory the non-root user can write (the default database is
# sqlite:bridge.db in the working directory). distroless has no shell, so it
# is made here and copied over.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /bridge /bridge
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER nonroot:nonroot
ENV BRIDGE_ADDR=:8080
EXPOSE 8080
VOLUME ["/data"]
# No shell in distroless: the binary checks itself (GET /healthz on BRIDGE_ADDR).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["/bridge", "healthcheck"]
ENTRYPOINT ["/bridge"]
CMD ["serve"]
