# The admin copilot-bridge image: copilot-bridge, the 1Password CLI and this
# project's container entrypoint, which renders the bridge's config from
# 1Password into tmpfs, drops to the unprivileged user `bridge` and starts
# (or supervises) `copilot-bridge start`. The same image runs the Docker
# socket guard (`docker-socket-guard`).
#
# Build after `npm run build` (the entrypoint is one bundled file under dist/):
#   DOCKER_BUILDKIT=0 docker build -t copilot-bridge-stack/copilot-bridge:local .
# Build arguments (classic builder compatible: no --mount, no --chmod):
#   NODE_IMAGE      Debian bookworm with Node >= 22.15 and npm
#   OP_IMAGE        an image holding the 1Password CLI at OP_PATH
#   OP_PATH         where `op` is in OP_IMAGE
#   BRIDGE_PACKAGE  what `npm install -g` installs for copilot-bridge; a
#                   local tarball goes under docker/packages/ and is named
#                   here as /tmp/packages/NAME.tgz
#   BRIDGE_UID      the bridge user's uid and gid
# No secret is an argument, a file or a layer here: the token arrives at run
# time as the Docker secret /run/secrets/op_sa_token.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG OP_IMAGE=1password/op:2.31.0

FROM ${OP_IMAGE} AS op

# copilot-bridge and its production dependencies, installed into one prefix
# that the runtime stage copies whole (npm and its cache stay behind).
FROM ${NODE_IMAGE} AS bridge-package
ARG BRIDGE_PACKAGE=copilot-bridge@0.15.0
COPY docker/packages/ /tmp/packages/
RUN npm install --global --prefix /opt/copilot-bridge --omit=dev --no-audit --no-fund --no-update-notifier "${BRIDGE_PACKAGE}" \
 && /opt/copilot-bridge/bin/copilot-bridge --version \
 && rm -rf /tmp/packages /root/.npm

FROM ${NODE_IMAGE} AS runtime
ARG OP_PATH=/usr/local/bin/op
ARG BRIDGE_UID=61001
# tini: the reaper the entrypoint runs under when it is PID 1 without
# `init: true`; util-linux: prlimit, for RLIMIT_CORE when the container does
# not set `ulimits: core: 0`. Installed only when NODE_IMAGE lacks them.
# The bridge user: a fixed uid far from the usual host uids (0-60000), a
# private home that the compose file mounts a named volume over.
RUN set -eu; \
    if ! command -v tini >/dev/null || ! command -v prlimit >/dev/null; then \
      apt-get update; \
      apt-get install -y --no-install-recommends tini util-linux; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --gid "${BRIDGE_UID}" bridge; \
    useradd --uid "${BRIDGE_UID}" --gid bridge --no-log-init --create-home --home-dir /home/bridge --shell /usr/sbin/nologin bridge; \
    mkdir -p /home/bridge/.copilot-bridge /etc/copilot-bridge /usr/local/lib/copilot-bridge-stack; \
    chown -R bridge:bridge /home/bridge; \
    chmod 0700 /home/bridge /home/bridge/.copilot-bridge
COPY --from=op ${OP_PATH} /usr/local/bin/op
COPY --from=bridge-package /opt/copilot-bridge /opt/copilot-bridge
# This project's programs: each one bundled file, no node_modules.
#   copilot-bridge-entrypoint  the bridge container's entrypoint and HEALTHCHECK
#   docker-socket-guard        the filtered Docker API (compose service socket-proxy)
COPY dist/copilot-bridge-entrypoint.mjs dist/docker-socket-guard.mjs /usr/local/lib/copilot-bridge-stack/
COPY templates/config.json.tpl /etc/copilot-bridge/config.json.tpl
RUN chmod 0755 /usr/local/bin/op /usr/local/lib/copilot-bridge-stack/*.mjs \
 && chmod 0644 /etc/copilot-bridge/config.json.tpl \
 && ln -s /usr/local/lib/copilot-bridge-stack/copilot-bridge-entrypoint.mjs /usr/local/bin/copilot-bridge-entrypoint \
 && ln -s /usr/local/lib/copilot-bridge-stack/docker-socket-guard.mjs /usr/local/bin/docker-socket-guard \
 && op --version >/dev/null

ENV PATH=/opt/copilot-bridge/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    OP_SERVICE_ACCOUNT_TOKEN_FILE=/run/secrets/op_sa_token \
    BRIDGE_CONFIG_TEMPLATE=/etc/copilot-bridge/config.json.tpl \
    BRIDGE_CONFIG_OUT=/tmp/config.json \
    BRIDGE_RUN_AS=bridge
WORKDIR /home/bridge
# Starts as root on purpose: the entrypoint reads the root-only token file,
# then drops to `bridge` for good before the config is written and the bridge
# runs. Needs only the SETUID and SETGID capabilities (see compose.yml).
ENTRYPOINT ["copilot-bridge-entrypoint"]
CMD ["copilot-bridge", "start"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["copilot-bridge-entrypoint", "verify"]
LABEL org.opencontainers.image.title="copilot-bridge (admin)" \
      org.opencontainers.image.description="copilot-bridge with a 1Password-rendered config on tmpfs, run unprivileged" \
      org.opencontainers.image.licenses="MIT"
