# One image for every synod process (docs/install.md "Container image", k8s/README.md):
#   node /app/synod.mjs <command> …   e.g. spanserver, placement, timemaster, gateway, creds
# Build: docker build -t synod:dev .
# test/k8s/dockerfile.test.ts replays these steps without Docker; it models FROM, WORKDIR, COPY
# (also --from=<stage>), RUN, ENV, USER, ENTRYPOINT and CMD, and fails on any other instruction
# and on an absolute path in a RUN step (it runs them in a temporary directory, not a chroot).

FROM node:22-bookworm-slim AS build
WORKDIR /src
# The whole context minus .dockerignore: the workspaces' package.json files (npm ci needs every
# one the lockfile names), the sources of libs/ and services/, the lockfile, the build scripts.
COPY . .
RUN npm ci --no-audit --no-fund
RUN node services/cli/build.mjs
# The bundle plus only the packages it leaves external (lmdb, pino) and their dependencies.
RUN node infra/image/runtime-files.mjs out

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production
ENV HOME=/tmp
WORKDIR /app
COPY --from=build /src/out/ /app/
# A fixed numeric uid/gid (no /etc/passwd entry needed) so runAsNonRoot can check it; the
# manifests set the same ids. Data lives on volumes, /tmp on an emptyDir: the root file system
# may be read-only.
USER 10001:10001
ENTRYPOINT ["node", "/app/synod.mjs"]
CMD ["--help"]
