// Reads Kubernetes-style config from the paths a user names on the command line (`ambient analyze`,
// `ambient authz check`): a file as is, a directory's *.yaml/*.yml recursively in path order, names
// starting with "." skipped (the same rules as the watched directory source). Files are named
// relative to `cwd`, as the user typed them, which is how messages show them.
import { readFile, readdir, stat } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { AmbientError, errorMessage } from '../../errors.js'

export const ReadConfigErrorCode = {
  unreadable: 'ISTIOD_CONFIG_PATH_UNREADABLE',
} as const

const CONFIG_FILE = /\.ya?ml$/

export interface ConfigFileText {
  readonly file: string
  readonly text: string
}

export async function readConfigPaths(paths: readonly string[], cwd: string): Promise<ConfigFileText[]> {
  const found = (await Promise.all(paths.map((p) => configFiles(resolve(cwd, p))))).flat()
  return Promise.all([...new Set(found)].map(async (p) => ({ file: relative(cwd, p) || p, text: await readFile(p, 'utf8') })))
}

/** True when `path` is a directory (so `authz check --config` can tell YAML dirs from a ztunnel file). */
export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() === true
}

async function configFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch((err: unknown) => {
    throw new AmbientError(ReadConfigErrorCode.unreadable, `cannot read ${path}: ${errorMessage(err)}`, { side: 'config', cause: err })
  })
  if (!info.isDirectory()) return [path]
  const entries = await readdir(path, { withFileTypes: true })
  const out: string[] = []
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.')) continue
    const full = join(path, e.name)
    if (e.isDirectory()) out.push(...(await configFiles(full)))
    else if (e.isFile() && CONFIG_FILE.test(e.name)) out.push(full)
  }
  return out
}
