// Lint rules, including the import directions of ARCHITECTURE.md. Each layer lists the layers it may
// not import; `no-restricted-imports` holds the line, and `import/no-cycle`-style checks are done by
// scripts/check-cycles.mjs.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const forbid = (...layers) =>
  layers.map((l) => ({
    group: [`**/${l}/**`, `../${l}/*`, `../../${l}/*`],
    message: `this layer must not import src/${l} (see ARCHITECTURE.md, import directions)`,
  }))

const ALL = [
  'authz',
  'bench',
  'capture',
  'cli',
  'cluster',
  'hbone',
  'identity',
  'inspect',
  'istiod',
  'kube',
  'l7',
  'mesh',
  'net',
  'observability',
  'sidecar',
  'ui',
  'waypoint',
  'xds',
  'ztunnel',
]
const except = (...keep) => ALL.filter((l) => !keep.includes(l))

const layer = (dir, banned) => ({
  files: [`src/${dir}/**/*.ts`],
  rules: { 'no-restricted-imports': ['error', { patterns: forbid(...banned) }] },
})

export default tseslint.config(
  { ignores: ['dist/**', 'dist-check/**', 'coverage/**', '.tap/**', 'node_modules/**', 'src/xds/gen/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'only src/cli (and runners) read process.env' },
        { object: 'process', property: 'argv', message: 'only src/cli reads process.argv' },
        { object: 'process', property: 'exit', message: 'only src/cli calls process.exit' },
      ],
    },
  },
  // identity and net depend on nothing of ours.
  layer('identity', except('identity')),
  layer('net', except('net')),
  // kube: the Kubernetes API client (list/watch), a leaf like net.
  layer('kube', except('kube')),
  // observability is a leaf too (logger, metrics, flow record); it may use identity types and net.
  layer('observability', except('observability', 'identity', 'net')),
  // authz is pure: identity types and net's address values only.
  layer('authz', except('authz', 'identity', 'net')),
  // hbone: the tunnel protocol only.
  layer('hbone', except('hbone', 'identity', 'net', 'observability')),
  layer('mesh', except('mesh', 'identity', 'authz', 'net', 'observability')),
  layer('capture', except('capture', 'identity', 'net', 'observability', 'mesh')),
  layer('ztunnel', ['waypoint', 'sidecar', 'l7', 'cli', 'cluster', 'istiod', 'ui', 'bench', 'inspect']),
  // l7: the L7 engine both proxies compose (routing, policies, retries, upstream pool, telemetry).
  layer('l7', ['waypoint', 'sidecar', 'ztunnel', 'istiod', 'cli', 'cluster', 'ui', 'bench', 'inspect']),
  layer('waypoint', ['ztunnel', 'sidecar', 'cli', 'cluster', 'istiod', 'ui', 'bench', 'inspect']),
  layer('sidecar', ['ztunnel', 'waypoint', 'cli', 'cluster', 'istiod', 'ui', 'bench', 'inspect']),
  layer('istiod', ['ztunnel', 'l7', 'waypoint', 'sidecar', 'cli', 'cluster', 'ui', 'bench', 'inspect']),
  layer('xds', ['ztunnel', 'l7', 'waypoint', 'sidecar', 'cli', 'cluster', 'istiod', 'ui', 'bench', 'inspect']),
  // The tools on top: the cluster runner starts processes; inspect reads a running cluster; the
  // dashboard (ui) draws both; bench drives clusters; cli composes them all and sits above every one.
  layer('cluster', ['cli', 'ui', 'bench', 'inspect']),
  layer('inspect', ['cli', 'ui', 'bench']),
  layer('ui', ['cli', 'bench']),
  layer('bench', ['cli', 'ui']),
  // cli is the top: it may import every layer, and no layer imports it (each row above bans it).
  layer('cli', []),
  // Runners may read the environment.
  {
    files: ['src/cli/**/*.ts', 'src/cluster/**/*.ts', 'src/bench/**/*.ts', 'scripts/**', 'test/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-non-null-assertion': 'off' } },
  { files: ['**/*.mjs', '**/*.js'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
)
