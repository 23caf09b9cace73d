// `ambient explain --live`: send one probe from the source pod, exactly as its apps would (through
// its SOCKS capture listener, the name unresolved), and show what really happened next to the
// prediction: the client's outcome (HTTP status, or refused before any answer) and the access-log
// records the ztunnels wrote for it (from the cluster runner's per-component logs).
import { readFile } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { connect as socksConnect, SocksClientError } from '../capture/socks5-client.js'
import { errorMessage } from '../errors.js'
import type { Explanation } from './explain.js'
import { expectedText } from './explain-format.js'

export type Observed =
  | { readonly kind: 'http'; readonly status: number; readonly body: string }
  /** `connected`: connected, but no HTTP answer came (a TCP service, or a slow app). */
  | { readonly kind: 'refused' | 'connected'; readonly detail: string }

export interface AccessRecord {
  readonly time: string
  readonly component: string
  readonly direction: string
  readonly src: string
  readonly srcIdentity: string
  readonly dst: string
  readonly dstIdentity: string
  readonly error: string | null
  readonly responseFlags: string | null
}

export interface LiveResult {
  readonly observed: Observed
  readonly agrees: boolean
  readonly accessLog: readonly AccessRecord[]
}

export interface ProbeOptions {
  /** The source pod's SOCKS listener: `<pod IP>:15080`. */
  readonly socks: { readonly host: string; readonly port: number }
  /** Host and port as the client writes them (`productpage`, 9080). */
  readonly host: string
  readonly port: number
  readonly method: string
  readonly path: string
  readonly headers?: Readonly<Record<string, string>>
  readonly timeoutMs?: number
  /** In-pod capture: connect as a plain client inside the source pod's namespace instead of through SOCKS. */
  readonly dial?: (host: string, port: number) => Promise<Socket>
}

/** One HTTP/1.1 request through the pod's capture; never throws for a mesh refusal. */
export async function probe(o: ProbeOptions): Promise<Observed> {
  const timeoutMs = o.timeoutMs ?? 5_000
  const target = /^\d+\.\d+\.\d+\.\d+$/.test(o.host) ? { ip: o.host, port: o.port } : { host: o.host, port: o.port }
  let socket: Socket
  try {
    socket = await withTimeout(
      o.dial !== undefined ? o.dial(o.host, o.port) : socksConnect(o.socks.host, o.socks.port, target),
      timeoutMs,
      o.dial !== undefined ? 'connect' : 'SOCKS connect',
    )
  } catch (err) {
    const reply =
      err instanceof SocksClientError && err.replyCode !== undefined
        ? ` (SOCKS reply ${err.replyCode}${err.replyCode === 2 ? ': not allowed by ruleset' : ''})`
        : ''
    return { kind: 'refused', detail: `${errorMessage(err)}${reply}` }
  }
  const head = [
    `${o.method} ${o.path} HTTP/1.1`,
    `host: ${o.host}:${o.port}`,
    'connection: close',
    'user-agent: ambient-explain-live',
    ...Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ]
  return new Promise<Observed>((resolve) => {
    const chunks: Buffer[] = []
    let done = false
    let headersSeen = false
    const finish = (why: 'end' | 'error' | 'timeout', detail = ''): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const text = Buffer.concat(chunks).toString('latin1')
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text)
      if (m) {
        const bodyStart = text.indexOf('\r\n\r\n')
        resolve({ kind: 'http', status: Number(m[1]), body: bodyStart < 0 ? '' : text.slice(bodyStart + 4, bodyStart + 4 + 200) })
      } else if (why === 'timeout') {
        resolve({ kind: 'connected', detail: `no HTTP answer within ${timeoutMs} ms` })
      } else {
        resolve({ kind: 'refused', detail: `connection closed before any response${detail === '' ? '' : ` (${detail})`}` })
      }
    }
    const timer = setTimeout(() => finish('timeout'), timeoutMs)
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      // The status line and the start of the body are all we show: stop shortly after the headers
      // (an app may keep the connection open despite `connection: close`).
      if (!headersSeen && Buffer.concat(chunks).includes('\r\n\r\n')) {
        headersSeen = true
        setTimeout(() => finish('end'), 200).unref()
      }
    })
    socket.on('end', () => finish('end'))
    socket.on('close', () => finish('end'))
    socket.on('error', (err) => finish('error', err.message))
    socket.resume()
    socket.write(`${head.join('\r\n')}\r\n\r\n`)
  })
}

/** Does what happened match what was predicted? */
export function agrees(e: Pick<Explanation, 'expected'>, observed: Observed): boolean {
  const x = e.expected
  switch (x.kind) {
    case 'allowed':
      return observed.kind === 'connected' || (observed.kind === 'http' && !isMeshDenial(observed))
    case 'refused':
      return observed.kind === 'refused'
    case 'http':
      return observed.kind === 'http' && observed.status === x.status
  }
}

function isMeshDenial(o: Extract<Observed, { kind: 'http' }>): boolean {
  return o.status === 403 && o.body.startsWith('RBAC: access denied')
}

/** Access-log records (`scope: access`) written at or after `sinceMs` in these log files. */
export async function accessRecords(files: readonly string[], sinceMs: number): Promise<AccessRecord[]> {
  const out: AccessRecord[] = []
  for (const file of files) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch {
      continue
    }
    // Only the tail can be new; logs are append-only.
    for (const line of text.slice(-256 * 1024).split('\n')) {
      if (!line.includes('"access"')) continue
      let j: Record<string, unknown>
      try {
        j = JSON.parse(line) as Record<string, unknown>
      } catch {
        continue
      }
      const t = Date.parse(String(j.time))
      if (j.scope !== 'access' || !(t >= sinceMs)) continue
      const s = (k: string): string => (j[k] === undefined ? '' : String(j[k]))
      out.push({
        time: s('time'),
        component: `${s('component')}${file.includes('node-') ? ` ${/node-\d+/.exec(file)?.[0] ?? ''}` : ''}`,
        direction: s('direction'),
        src: s('src.workload') ? `${s('src.namespace')}/${s('src.workload')} ${s('src.addr')}` : s('src.addr'),
        srcIdentity: s('src.identity'),
        dst: `${s('dst.workload') ? `${s('dst.namespace')}/${s('dst.workload')} ` : ''}${s('dst.addr')}${s('dst.service') ? ` (${s('dst.service')})` : ''}`,
        dstIdentity: s('dst.identity'),
        error: j.error === undefined ? null : s('error'),
        responseFlags: j.response_flags === undefined ? null : s('response_flags'),
      })
    }
  }
  return out.sort((a, b) => a.time.localeCompare(b.time))
}

export interface RunLiveOptions extends ProbeOptions {
  /** ztunnel (and waypoint) log files to read the access records from. */
  readonly logFiles: readonly string[]
  /** Identities whose records belong to this probe (the source's, the waypoint's). */
  readonly identities: readonly string[]
  readonly now?: () => number
}

export async function runLive(e: Explanation, o: RunLiveOptions): Promise<LiveResult> {
  const now = o.now ?? Date.now
  const started = now() - 5 // log timestamps are ms; allow for clock rounding
  const observed = await probe(o)
  // Access records are written when a connection completes; give the far side a moment.
  let records: AccessRecord[] = []
  for (let i = 0; i < 10; i++) {
    await delay(100)
    records = (await accessRecords(o.logFiles, started)).filter((r) => o.identities.includes(r.srcIdentity))
    if (records.some((r) => r.direction === 'inbound') || (records.length > 0 && i >= 3)) break
  }
  return { observed, agrees: agrees(e, observed), accessLog: records }
}

export function formatLive(e: Explanation, live: LiveResult): string[] {
  const o = live.observed
  const seen =
    o.kind === 'http'
      ? `HTTP ${o.status}${o.body.trim() === '' ? '' : ` (${o.body.trim().split('\n')[0]!.slice(0, 60)})`}`
      : `${o.kind}: ${o.detail}`
  const lines = [
    '',
    'live probe:',
    `  predicted: ${e.verdict} — ${expectedText(e)}`,
    `  observed:  ${seen}`,
    `  ${live.agrees ? 'AGREES with the prediction' : 'DISAGREES with the prediction'}`,
  ]
  if (live.accessLog.length > 0) {
    lines.push('  access log:')
    for (const r of live.accessLog) {
      lines.push(
        `    ${r.time} ${r.component} ${r.direction}: ${r.src} [${r.srcIdentity || 'no identity'}] → ` +
          `${r.dst}${r.error === null ? ' ok' : ` ERROR ${r.error}${r.responseFlags === null ? '' : ` (${r.responseFlags})`}`}`,
      )
    }
  } else {
    lines.push('  access log: no ztunnel record of this probe yet')
  }
  return lines
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
    p.then(
      (v) => {
        clearTimeout(t)
        resolve(v)
      },
      (err: unknown) => {
        clearTimeout(t)
        reject(err as Error)
      },
    )
  })
}
