// Every manifest under deploy/ checked offline (no cluster can run here): Kubernetes kinds against
// the Kubernetes schemas (kubernetes-models 4.5; 5.x needs Node 22), Istio and Gateway API kinds
// through istiod's own parser, plus what Istio's shapes require of ours (ztunnel's capabilities,
// user, downward-API env, probes, ports, mounts; istiod's ports; RBAC for every kind istiod reads;
// images the scripts build; every CLI flag the manifests pass exists). istiod's generated waypoint
// Deployment is validated the same way.
import t, { type Test } from 'tap'
import { needs, requires } from '../../helpers/requires.js'
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { KUBE_RESOURCES } from '../../../src/istiod/kube-config-source.js'
import { IMAGE_CLI, waypointDeployment, waypointService } from '../../../src/istiod/kube/waypoint-deployment.js'
import { L7_PROXY_NODE_FLAGS } from '../../../src/l7-proxy-process.js'
import { parseConfigText } from '../../../src/istiod/resources/parse.js'
import { isKnownKind } from '../../../src/istiod/resources/kinds.js'
import { runCommand as runCli } from '../../../src/cli/registry.js'
import type { CliIo } from '../../../src/cli/io.js'
import { HBONE_PROCESS_NODE_FLAGS } from '../../../src/hbone/settings.js'

type Obj = {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string> }
  [k: string]: unknown
}
interface Container {
  name: string
  image: string
  command?: string[]
  args?: string[]
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[]
  ports?: { containerPort: number; name?: string }[]
  readinessProbe?: { httpGet?: { port: number; path: string }; tcpSocket?: { port: number } }
  securityContext?: { runAsUser?: number; runAsGroup?: number; capabilities?: { add?: string[] } }
  volumeMounts?: { name: string; mountPath: string }[]
}
interface PodSpec {
  containers: Container[]
  hostNetwork?: boolean
  hostPID?: boolean
  serviceAccountName?: string
  volumes?: { name: string; projected?: { sources: { serviceAccountToken?: { audience: string } }[] }; hostPath?: { path: string } }[]
}

const files = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort()
const manifests = files('deploy').filter((f) => !f.endsWith('kind-config.yaml'))
const load = (file: string): Obj[] =>
  parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null)
const all = new Map(manifests.map((f) => [f, load(f)]))
const find = (file: string, kind: string, name: string): Obj => {
  const o = all.get(file)?.find((x) => x.kind === kind && x.metadata.name === name)
  if (o === undefined) throw new Error(`${file}: no ${kind} ${name}`)
  return o
}
const podSpec = (o: Obj): PodSpec => (o.spec as { template: { spec: PodSpec } }).template.spec

/** kubernetes-models' class for a core kind, or undefined for CRD kinds. */
async function schemaClass(apiVersion: string, kind: string): Promise<(new (o: unknown) => { validate(): void }) | undefined> {
  const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion]
  try {
    const mod = (await import(`kubernetes-models/${group === '' ? '' : `${group}/`}${version}/${kind}`)) as Record<
      string,
      new (o: unknown) => { validate(): void }
    >
    return mod[kind]
  } catch {
    return undefined
  }
}

async function validateObject(t: Test, where: string, o: Obj): Promise<void> {
  const Model = await schemaClass(o.apiVersion, o.kind)
  if (Model !== undefined) {
    t.doesNotThrow(() => new Model(o).validate(), `${where}: ${o.kind}/${o.metadata.name} matches the Kubernetes schema`)
  } else if (isKnownKind(o.kind)) {
    const parsed = parseConfigText(JSON.stringify(o), where)
    t.same(
      parsed.messages.filter((m) => m.severity === 'error'),
      [],
      `${where}: ${o.kind}/${o.metadata.name} parses cleanly`,
    )
  } else if (o.kind === 'GatewayClass') {
    t.equal(
      (o.spec as { controllerName?: string }).controllerName,
      'istio.io/mesh-controller',
      `${where}: GatewayClass names Istio's mesh controller`,
    )
  } else {
    t.fail(`${where}: ${o.apiVersion} ${o.kind} is neither a Kubernetes kind nor one we read`)
  }
}

/** `ambient <command> --help`: the usage the command prints. */
async function usageOf(command: string): Promise<string> {
  const out: string[] = []
  const io: CliIo = {
    stdout: (s) => void out.push(s),
    stderr: (s) => void out.push(s),
    env: {},
    cwd: '/',
    stopSignal: new Promise(() => {}),
  }
  await runCli([command, '--help'], io)
  return out.join('')
}

/** Every `--flag` passed to `ambient <command>` exists in that command's usage. */
async function checkArgs(t: Test, where: string, args: readonly string[]): Promise<void> {
  const command = args[0] ?? ''
  const usage = await usageOf(command)
  t.match(usage, `ambient ${command}`, `${where}: ambient ${command} prints its usage`)
  for (const a of args.filter((x) => x.startsWith('--'))) {
    const flag = a.split('=')[0]!
    t.ok(
      [' ', ']', ')', '\n'].some((end) => usage.includes(`${flag}${end}`)),
      `${where}: ambient ${command} takes ${flag}`,
    )
  }
}

t.test('every manifest under deploy/ is valid', async (t) => {
  t.ok(manifests.length >= 8)
  for (const [file, objects] of all) {
    t.ok(objects.length > 0, `${file} has objects`)
    for (const o of objects) await validateObject(t, file, o)
  }
})

t.test("ztunnel DaemonSet is shaped like Istio's", async (t) => {
  const ds = find('deploy/kind/ztunnel.yaml', 'DaemonSet', 'ztunnel')
  const spec = podSpec(ds)
  const c = spec.containers[0]!
  t.not(spec.hostNetwork, true, 'not on the host network')
  // The node agent enters the node's namespace by /proc/1/ns/net for the kubelet probe SNAT.
  t.equal(spec.hostPID, true, "the node's PIDs: /proc/1/ns/net is the node's network namespace")
  t.match(c.args?.join(' ') ?? '', '--node-agent --host-netns /proc/1/ns/net')
  t.same([...(c.securityContext?.capabilities?.add ?? [])].sort(), ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE'])
  t.equal(c.securityContext?.runAsUser, 0)
  t.equal(c.securityContext?.runAsGroup, 1337)
  const env = new Map((c.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath ?? e.value]))
  t.equal(env.get('NODE_NAME'), 'spec.nodeName')
  t.equal(env.get('POD_NAME'), 'metadata.name')
  t.equal(env.get('POD_NAMESPACE'), 'metadata.namespace')
  t.equal(env.get('INSTANCE_IP'), 'status.podIP')
  t.equal(env.get('NODE_OPTIONS'), HBONE_PROCESS_NODE_FLAGS.join(' '), 'the Node flags the local cluster starts ztunnel with')
  t.same(c.readinessProbe?.httpGet, { path: '/healthz/ready', port: 15021 })
  t.ok(
    c.ports?.some((p) => p.containerPort === 15020),
    'metrics on 15020',
  )
  const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath)
  for (const m of ['/var/run/netns', '/var/run/ztunnel', '/var/run/secrets/tokens', '/var/run/secrets/istio'])
    t.ok(mounts.includes(m), `mounts ${m}`)
  t.ok(
    spec.volumes?.some((v) => v.projected?.sources.some((s) => s.serviceAccountToken?.audience === 'istio-ca')),
    'projected token for audience istio-ca',
  )
  t.equal(spec.serviceAccountName, 'ztunnel')
  await checkArgs(t, 'ztunnel.yaml', c.args ?? [])
  // Everything $(VAR) in args is an env var the container defines.
  for (const a of c.args ?? []) for (const m of a.matchAll(/\$\((\w+)\)/g)) t.ok(env.has(m[1]!), `$(${m[1]}) is defined`)
})

t.test('istiod Deployment, Service and RBAC', async (t) => {
  const d = find('deploy/kind/istiod.yaml', 'Deployment', 'istiod')
  const c = podSpec(d).containers[0]!
  t.same(c.ports?.map((p) => p.containerPort).sort(), [15012, 15014])
  await checkArgs(t, 'istiod.yaml', c.args ?? [])
  t.ok(c.args?.includes('--kube'), 'runs on the Kubernetes API')
  const svc = find('deploy/kind/istiod.yaml', 'Service', 'istiod')
  t.same((svc.spec as { ports: { port: number }[] }).ports.map((p) => p.port).sort(), [15012, 15014])
  const role = find('deploy/kind/rbac.yaml', 'ClusterRole', 'istiod')
  const rules = (role as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }).rules
  const may = (group: string, resource: string, verb: string): boolean =>
    rules.some(
      (r) => r.apiGroups.includes(group) && (r.resources.includes(resource) || r.resources.includes('*')) && r.verbs.includes(verb),
    )
  for (const [kind, res] of Object.entries(KUBE_RESOURCES)) {
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/([^/]+)$/.exec(res.path)!
    for (const verb of ['list', 'watch']) t.ok(may(m[1] ?? '', m[2]!, verb), `istiod may ${verb} ${kind}`)
  }
  t.ok(may('authentication.k8s.io', 'tokenreviews', 'create'), 'istiod may create TokenReviews')
  t.ok(
    may('apps', 'deployments', 'create') && may('', 'services', 'create') && may('', 'serviceaccounts', 'create'),
    'istiod may create waypoints',
  )
  t.ok(may('gateway.networking.k8s.io', 'gateways/status', 'patch'), 'istiod may write Gateway status')
  t.ok(may('', 'configmaps', 'create') && may('', 'configmaps', 'patch'), 'istiod may publish istio-ca-root-cert')
  const secrets = find('deploy/kind/rbac.yaml', 'Role', 'istiod') as unknown as { rules: { resources: string[]; verbs: string[] }[] }
  t.ok(
    secrets.rules.some((r) => r.resources.includes('secrets') && r.verbs.includes('create')),
    'istiod may create the CA Secret in istio-system',
  )
})

t.test("images: ours are the tag kind-up builds, bookinfo's are pinned", async (t) => {
  const script = readFileSync('scripts/kind-up.sh', 'utf8')
  const built = /^IMAGE="([^"]+)"/m.exec(script)?.[1]
  t.equal(built, 'ambient:dev')
  t.match(script, /docker build -t "\$\{IMAGE\}" \./, 'kind-up builds the image from the Dockerfile at the root')
  // deploy/demo runs locally with built-in apps chosen by image name; deploy/kind pulls real images.
  for (const [file, objects] of [...all].filter(([f]) => f.startsWith('deploy/kind/'))) {
    for (const o of objects) {
      const spec = (o.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec
      for (const c of spec?.containers ?? []) {
        if (c.image.startsWith('ambient')) t.equal(c.image, built, `${file}: ${o.metadata.name} runs the image kind-up builds`)
        else t.match(c.image, /:[\w.-]+$/, `${file}: ${c.image} has a tag`)
        t.notMatch(c.image, /:latest$/, `${file}: ${c.image} is not :latest`)
      }
    }
  }
  const istiod = podSpec(find('deploy/kind/istiod.yaml', 'Deployment', 'istiod')).containers[0]!
  t.equal(istiod.args?.[istiod.args.indexOf('--waypoint-image') + 1], built, 'waypoints run the same image')
  const ns = find('deploy/kind/bookinfo.yaml', 'Namespace', 'default')
  t.equal(ns.metadata.labels?.['istio.io/dataplane-mode'], 'ambient', "bookinfo's namespace is in ambient")
})

t.test("istiod's generated waypoint Deployment and Service", async (t) => {
  const gw = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'reviews-waypoint', namespace: 'default', uid: '3f1c7a2e-0000-4000-8000-000000000001' },
  }
  const d = waypointDeployment(gw, {
    image: 'ambient:dev',
    xdsAddress: 'istiod.istio-system.svc:15012',
    trustDomain: 'cluster.local',
  }) as unknown as Obj
  const s = waypointService(gw) as unknown as Obj
  await validateObject(t, 'waypointDeployment()', d)
  await validateObject(t, 'waypointService()', s)
  const c = podSpec(d).containers[0]!
  t.same(c.ports?.map((p) => p.containerPort).sort(), [15008, 15020, 15021])
  await checkArgs(t, 'waypointDeployment()', c.args ?? [])
  t.same(c.command, ['node', '--enable-source-maps', ...L7_PROXY_NODE_FLAGS, IMAGE_CLI], "the local cluster's waypoint flags")
  t.ok(
    readFileSync('Dockerfile', 'utf8').includes(`ENTRYPOINT ["node", "--enable-source-maps", "${IMAGE_CLI}"]`),
    'the image runs that CLI',
  )
  t.equal(c.env?.find((e) => e.name === 'MALLOC_ARENA_MAX')?.value, '1', 'one malloc arena, as the local cluster runs it')
  t.equal(d.metadata.labels?.['gateway.networking.k8s.io/gateway-name'], 'reviews-waypoint')
  t.equal(d.metadata.labels?.['istio.io/gateway-name'], 'reviews-waypoint')
})

t.test('kind scripts: bash -n, every path they use exists', async (t) => {
  const { spawnSync } = await import('node:child_process')
  const { existsSync } = await import('node:fs')
  for (const script of ['scripts/kind-up.sh', 'scripts/kind-down.sh']) {
    const text = readFileSync(script, 'utf8')
    t.match(text, /^set -euo pipefail$/m, `${script}: set -euo pipefail`)
    t.equal(spawnSync('bash', ['-n', script]).status, 0, `${script}: bash -n`)
    for (const m of text.matchAll(/\b((?:deploy|scripts)\/[\w./-]+\.(?:ya?ml|sh))/g)) t.ok(existsSync(m[1]!), `${script}: ${m[1]} exists`)
  }
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> }
  t.equal(pkg.scripts['kind:up'], 'bash scripts/kind-up.sh')
  t.equal(pkg.scripts['kind:down'], 'bash scripts/kind-down.sh')
  const docker = readFileSync('Dockerfile', 'utf8')
  t.match(docker, /^FROM node:20[\w.-]* AS build$/m, 'multi-stage, Node 20')
  t.match(docker, /RUN npm ci/)
  t.match(docker, /node scripts\/build-native\.mjs --force/, 'the build stage builds the capture addon (and fails if it cannot)')
  const addon = /COPY --from=build \/src\/(\S+) \.\/(\S+)$/m.exec(
    docker
      .split('\n')
      .filter((l) => l.includes('.node'))
      .join('\n'),
  )
  t.equal(addon?.[1], 'native/capture/build/Release/ambient_capture.node', 'the addon is copied from where build-native writes it')
  t.equal(addon?.[2], addon?.[1], '…to the same path under /app, where src/capture/inpod/addon.ts loads it')
  t.match(
    readFileSync('src/capture/inpod/addon.ts', 'utf8').replace(/\s+/g, ' '),
    /'native', 'capture', 'build', 'Release', 'ambient_capture\.node'/,
  )
  for (const m of docker.matchAll(/^COPY (?!--from)(\S+) /gm))
    for (const f of m[1]!.split(' ')) if (f !== '.') t.ok(existsSync(f), `Dockerfile copies ${f}, which exists`)
  t.ok(docker.includes(`/app/${pkg.bin.ambient}`), "the entrypoint is the package's ambient bin")
  const kindConfig = parseAllDocuments(readFileSync('deploy/kind/kind-config.yaml', 'utf8'))[0]!.toJS() as {
    kind: string
    apiVersion: string
    nodes: { role: string }[]
  }
  t.equal(kindConfig.apiVersion, 'kind.x-k8s.io/v1alpha4')
  t.ok(kindConfig.nodes.filter((n) => n.role === 'worker').length >= 2, 'at least two workers (two ztunnels)')
  t.comment(`checked ${manifests.map((f) => relative('.', f)).join(', ')}`)
})

t.test('kind scripts pass shellcheck', { skip: requires(t, needs.tool('shellcheck')) }, async (t) => {
  const { spawnSync } = await import('node:child_process')
  for (const script of ['scripts/kind-up.sh', 'scripts/kind-down.sh']) {
    const sc = spawnSync('shellcheck', [script], { encoding: 'utf8' })
    t.equal(sc.status, 0, `${script}: shellcheck ${sc.stdout}`)
  }
})
