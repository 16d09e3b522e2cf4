/**
 * The two small files the host writes into the control share: env.sh (read
 * by the init script) and run.sh (the command, run by /bin/sh inside the
 * overlay root). The kernel command line cannot carry a command (its values
 * split on spaces), so the command travels as this script.
 */

/** Quote one word for a POSIX shell. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word
  return `'${word.replace(/'/g, `'\\''`)}'`
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/**
 * env.sh: the variables the init script needs: the results directory, and
 * the guest kernel's modules directory when it is not /lib/modules/<version>
 * on the host (a kernel from nslab's cache), which init links there.
 */
export function envScript(results: string | undefined, modules?: string): string {
  return `NSLAB_VM_RESULTS=${shellQuote(results ?? '')}\nNSLAB_VM_MODULES=${shellQuote(modules ?? '')}\n`
}

/** run.sh: exports, cd, exec the command. */
export function runScript(command: string[], cwd: string, env: Record<string, string>): string {
  if (command.length === 0) throw new TypeError('the VM needs a command to run')
  const lines = ['# written by nslab vm: the command to run in the guest']
  for (const [k, v] of Object.entries(env)) {
    if (!NAME.test(k)) throw new TypeError(`not an environment variable name: ${JSON.stringify(k)}`)
    lines.push(`export ${k}=${shellQuote(v)}`)
  }
  lines.push(`cd ${shellQuote(cwd)} || exit 125`)
  lines.push(`exec ${command.map(shellQuote).join(' ')}`)
  return lines.join('\n') + '\n'
}
