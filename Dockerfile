# The admin copilot-bridge image: copilot-bridge, the 1Password CLI and this
# project's container entrypoint, which renders the bridge's config from
# 1Password into tmpfs, drops to the unprivileged user `bridge` and starts
# (or supervises) `copilot-bridge start`. The same image runs the Docker
# socket guard (`docker-socket-guard`), the agent command (`agent`, also
# `copilot-bridge-agent`) and the agents it starts.
#
# The ENTRYPOINT is a static launcher (entrypoint/launcher/launcher.c): as
# root it refuses every variable that changes what a root process loads
# (NODE_OPTIONS, LD_PRELOAD...) before Node or a dynamic loader can act on
# it, then execs Node with the bundled entrypoint. The image's user is
# `bridge`, so a `docker exec` or healthcheck that does not ask for root runs
# as `bridge`; compose.yml and the agent builder ask for root (0:0) for the
# entrypoint's root phase.
#
# Build after `npm run build` (each program is one bundled file under dist/,
# made by scripts/build.mjs):
#   DOCKER_BUILDKIT=0 docker build -t copilot-bridge-stack/copilot-bridge:local .
# Build arguments (classic builder compatible: no --mount, no --chmod):
#   NODE_IMAGE      Debian bookworm with Node >= 22.15 and npm
#   OP_IMAGE        an image holding the 1Password CLI at OP_PATH
#   OP_PATH         where `op` is in OP_IMAGE
#   BRIDGE_PACKAGE  what npm installs for copilot-bridge (default
#                   @chrisromp/copilot-bridge@0.15.0); a local tarball goes
#                   under docker/packages/ and is named here as
#                   /tmp/packages/NAME.tgz
#   BRIDGE_OVERRIDES npm overrides (JSON) for its dependencies: default
#                   {"@github/copilot":"1.0.50"} (see the bridge-package stage)
#   BRIDGE_UID      the bridge user's uid and gid
# No secret is an argument, a file or a layer here: the token arrives at run
# time as the Docker secret /run/secrets/op_sa_token.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG OP_IMAGE=1password/op:2.31.0

FROM ${OP_IMAGE} AS op

# The launcher: C, linked statically against musl (no dynamic loader, so no
# LD_PRELOAD and no glibc tunables before it looks). Its Node and bundle paths
# are the runtime stage's below.
FROM ${NODE_IMAGE} AS launcher
RUN set -eu; \
    apt-get update; \
    apt-get install -y --no-install-recommends gcc musl-tools; \
    rm -rf /var/lib/apt/lists/*
COPY entrypoint/launcher/launcher.c /build/entrypoint/launcher/launcher.c
COPY scripts/build-launcher.sh /build/scripts/build-launcher.sh
RUN mkdir -p /out && bash /build/scripts/build-launcher.sh /out/copilot-bridge-launcher /usr/local/bin/node /usr/local/lib/copilot-bridge-stack/copilot-bridge-entrypoint.mjs
# Each stage's image carries the stack's project (Compose passes it), last so
# that it changes no cached step: `npm run audit` searches every image of the
# project, the stages a build leaves behind and earlier builds included.
ARG STACK_PROJECT=
LABEL com.copilot-bridge-stack.build-project="${STACK_PROJECT}"

# copilot-bridge, by its npm name, in a project of its own whose package.json
# carries BRIDGE_OVERRIDES (npm overrides): an install takes the newest
# versions its ranges allow, and @github/copilot 1.0.64 and later no longer
# have the entry its @github/copilot-sdk 0.3.0 starts (the bridge then exits
# at start: "Copilot CLI not found"); upstream's own lockfile has 1.0.50.
# Its better-sqlite3 is a native addon: its install fetches a prebuilt
# binary, and where none can be fetched it builds from source with python3,
# make and g++ against Node's own headers (npm_config_nodedir: no download).
# The tools stay in this stage; only /opt/copilot-bridge goes on.
FROM ${NODE_IMAGE} AS bridge-package
ARG BRIDGE_PACKAGE=@chrisromp/copilot-bridge@0.15.0
ARG BRIDGE_OVERRIDES='{"@github/copilot":"1.0.50"}'
RUN set -eu; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3 make g++; \
    rm -rf /var/lib/apt/lists/*
COPY docker/packages/ /tmp/packages/
WORKDIR /opt/copilot-bridge
RUN node -e "require('fs').writeFileSync('package.json', JSON.stringify({ name: 'copilot-bridge-install', private: true, overrides: JSON.parse(process.argv[1]) }, null, 2))" "${BRIDGE_OVERRIDES}" \
 && npm_config_nodedir=/usr/local npm install --omit=dev --no-audit --no-fund --no-update-notifier "${BRIDGE_PACKAGE}" \
 && mkdir -p bin && ln -s ../node_modules/.bin/copilot-bridge bin/copilot-bridge \
 && /opt/copilot-bridge/bin/copilot-bridge --version \
 && rm -rf /tmp/packages /root/.npm /root/.cache
ARG STACK_PROJECT=
LABEL com.copilot-bridge-stack.build-project="${STACK_PROJECT}"

FROM ${NODE_IMAGE} AS runtime
ARG OP_PATH=/usr/local/bin/op
ARG BRIDGE_UID=61001
# tini: the reaper the bridge runs under when the entrypoint is PID 1 (agents);
# util-linux: prlimit, for RLIMIT_CORE when the container does not set
# `ulimits: core: 0`; ca-certificates: /etc/ssl/certs, where the Copilot CLI
# (OpenSSL) looks for the roots it trusts. Installed only when NODE_IMAGE
# lacks them; the root phase runs tini and prlimit by these fixed paths only.
# The bridge user: a fixed uid far from the usual host uids (0-60000), a
# private home that the compose file mounts a named volume over.
RUN set -eu; \
    if [ ! -x /usr/bin/tini ] || [ ! -x /usr/bin/prlimit ] || [ ! -d /etc/ssl/certs ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends tini util-linux ca-certificates; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --gid "${BRIDGE_UID}" bridge; \
    useradd --uid "${BRIDGE_UID}" --gid bridge --no-log-init --create-home --home-dir /home/bridge --shell /usr/sbin/nologin bridge; \
    mkdir -p /home/bridge/.copilot-bridge /etc/copilot-bridge /usr/local/lib/copilot-bridge-stack; \
    chown -R bridge:bridge /home/bridge; \
    chmod 0700 /home/bridge /home/bridge/.copilot-bridge
COPY --from=op ${OP_PATH} /usr/local/bin/op
COPY --from=bridge-package /opt/copilot-bridge /opt/copilot-bridge
COPY --from=launcher /out/copilot-bridge-launcher /usr/local/lib/copilot-bridge-stack/copilot-bridge-launcher
# This project's programs: each one bundled file, no node_modules.
#   copilot-bridge-entrypoint  the bridge container's entrypoint and HEALTHCHECK
#                              (the launcher, which runs the bundle)
#   docker-socket-guard        the filtered Docker API (compose service socket-proxy)
#   copilot-bridge-agent       `agent up|down|ls|logs|spec NAME`, through the guard (DOCKER_HOST)
# and the templates: the admin's config, and the one each agent gets (rendered
# per agent by `agent up`). The agents file is mounted read-only by compose at
# /etc/copilot-bridge/agents.json (AGENTS_FILE).
COPY dist/copilot-bridge-entrypoint.mjs dist/docker-socket-guard.mjs dist/copilot-bridge-agent.mjs /usr/local/lib/copilot-bridge-stack/
COPY templates/config.json.tpl templates/agent.config.json.tpl /etc/copilot-bridge/
RUN chmod 0755 /usr/local/bin/op /usr/local/lib/copilot-bridge-stack/copilot-bridge-entrypoint.mjs /usr/local/lib/copilot-bridge-stack/docker-socket-guard.mjs /usr/local/lib/copilot-bridge-stack/copilot-bridge-agent.mjs \
 && chmod 0644 /etc/copilot-bridge/config.json.tpl /etc/copilot-bridge/agent.config.json.tpl \
 && ln -s /usr/local/lib/copilot-bridge-stack/copilot-bridge-launcher /usr/local/bin/copilot-bridge-entrypoint \
 && ln -s /usr/local/lib/copilot-bridge-stack/docker-socket-guard.mjs /usr/local/bin/docker-socket-guard \
 && ln -s /usr/local/lib/copilot-bridge-stack/copilot-bridge-agent.mjs /usr/local/bin/copilot-bridge-agent \
 && ln -s /usr/local/lib/copilot-bridge-stack/copilot-bridge-agent.mjs /usr/local/bin/agent \
 && op --version >/dev/null \
 && node -e "if (typeof process.execve !== 'function') { console.error('NODE_IMAGE: Node ' + process.version + ' has no process.execve; the entrypoint needs Node >= 22.15 (entrypoint/package.json engines)'); process.exit(1); }" \
 && (cd / && node /usr/local/lib/copilot-bridge-stack/copilot-bridge-agent.mjs 2>&1 | grep -q '^agent: no command; usage: agent up NAME') \
 && test -x /usr/local/bin/node && test -x /usr/bin/tini && test -x /usr/bin/prlimit

ENV PATH=/opt/copilot-bridge/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    OP_SERVICE_ACCOUNT_TOKEN_FILE=/run/secrets/op_sa_token \
    BRIDGE_CONFIG_TEMPLATE=/etc/copilot-bridge/config.json.tpl \
    BRIDGE_CONFIG_OUT=/tmp/config.json \
    BRIDGE_RUN_AS=bridge \
    AGENTS_FILE=/etc/copilot-bridge/agents.json
WORKDIR /home/bridge
# Whatever does not ask for root runs as `bridge`. The bridge containers ask
# for root (compose.yml `user: "0:0"`, the agent builder's User): the
# entrypoint reads the root-only token file, then drops to `bridge` for good
# before the config is written and the bridge runs. It needs only the SETUID
# and SETGID capabilities. Programs by absolute path: no PATH lookup.
USER bridge
ENTRYPOINT ["/usr/local/lib/copilot-bridge-stack/copilot-bridge-launcher"]
CMD ["copilot-bridge", "start"]
# The agents' healthcheck (compose.yml gives the admin bridge its own, every
# second): the static launcher reads the supervisor's leak verdict, no Node
# started; every 30 s, since each check is also a `docker exec` the engine
# pays for. One failure (a leak, or a stale verdict) is unhealthy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=1 CMD ["/usr/local/lib/copilot-bridge-stack/copilot-bridge-launcher", "health"]
# What `npm run doctor` reads back: the bridge package, and the SHA-256 of the
# Dockerfile the image was built from (Compose passes it; `unknown` otherwise).
ARG BRIDGE_PACKAGE=@chrisromp/copilot-bridge@0.15.0
ARG DOCKERFILE_SHA256=unknown
ARG STACK_PROJECT=
LABEL com.copilot-bridge-stack.build-project="${STACK_PROJECT}"
LABEL org.opencontainers.image.title="copilot-bridge (admin)" \
      org.opencontainers.image.description="copilot-bridge with a 1Password-rendered config on tmpfs, run unprivileged" \
      org.opencontainers.image.licenses="MIT" \
      com.copilot-bridge-stack.bridge-package="${BRIDGE_PACKAGE}" \
      com.copilot-bridge-stack.dockerfile-sha256="${DOCKERFILE_SHA256}"
