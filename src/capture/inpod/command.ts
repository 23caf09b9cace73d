// Runs the system commands of in-pod capture (ip, iptables-restore, sysctl) with typed failures.
import { execFile } from 'node:child_process'
import { AmbientError, errorMessage } from '../../errors.js'

export const TopologyErrorCode = {
  command: 'CAPTURE_INPOD_TOPOLOGY',
} as const

export interface CommandResult {
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command; a non-zero exit is CAPTURE_INPOD_TOPOLOGY with the command and its stderr. */
export function run(command: string, args: readonly string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, [...args], { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(
          new AmbientError(TopologyErrorCode.command, `${command} ${args.join(' ')} failed: ${(stderr || errorMessage(err)).trim()}`, {
            side: 'internal',
            cause: err,
          }),
        )
        return
      }
      resolve({ stdout, stderr })
    })
    if (input !== undefined) {
      // A command that exits before reading its input (nsenter failing to enter a namespace) closes
      // the pipe under our write: EPIPE here is not the failure, the exit status above reports it.
      child.stdin?.on('error', () => {})
      child.stdin?.end(input)
    }
  })
}
