# The `ambient` image: istiod, ztunnel and waypoints are one binary (`ambient <command>`).
# Build stage: npm ci (with the toolchain node-gyp needs), the TypeScript build, and the in-pod
# capture addon (native/capture, N-API) built by scripts/build-native.mjs --force, so a failed addon
# build fails the image; runtime stage: production dependencies, dist/ and the addon only (at the
# path src/capture/inpod/addon.ts loads it from).
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build \
 && node scripts/build-native.mjs --force \
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
COPY --from=build /src/native/capture/build/Release/ambient_capture.node ./native/capture/build/Release/ambient_capture.node
ENV NODE_ENV=production
ENTRYPOINT ["node", "--enable-source-maps", "/app/dist/cli/main.js"]
CMD ["--help"]
