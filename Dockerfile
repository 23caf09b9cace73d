# The `ambient` image: istiod, ztunnel and waypoints are one binary (`ambient <command>`).
# Build stage: npm ci (with the toolchain node-gyp needs, for a native addon when the tree has one:
# binding.gyp at the root), then the TypeScript build; runtime stage: production dependencies, dist/
# and the addon's build/ only.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build \
 && if [ -f binding.gyp ]; then npx --no-install node-gyp rebuild; fi \
 && mkdir -p build \
 && npm prune --omit=dev

FROM node:20-bookworm-slim
# iptables and iproute2: the in-pod capture rules ztunnel installs in each pod's network namespace.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/build ./build
ENV NODE_ENV=production
ENTRYPOINT ["node", "--enable-source-maps", "/app/dist/cli/main.js"]
CMD ["--help"]
