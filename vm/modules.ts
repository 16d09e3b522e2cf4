/**
 * Kernel module dependencies from a kernel's modules.dep: which .ko files to
 * load, in which order, so that every module comes after what it needs.
 */

/** modules.dep parsed: module path (relative to /lib/modules/<v>) -> its dependencies' paths. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const rest = line.slice(colon + 1).trim()
    deps.set(line.slice(0, colon).trim(), rest ? rest.split(/\s+/) : [])
  }
  return deps
}

/** "kernel/fs/9p/9p.ko.xz" -> "9p"; module names treat - and _ alike. */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1)
  return base.replace(/\.ko(\.(xz|gz|zst))?$/, '').replace(/-/g, '_')
}

export class ModuleNotFoundError extends Error {
  override readonly name = 'ModuleNotFoundError'
}

/**
 * The module files to load for `wanted`, dependencies first. Modules that are
 * built into the kernel (listed in modules.builtin) are left out; one that is
 * neither a module nor built in is an error naming it.
 */
export function loadOrder(
  deps: Map<string, string[]>,
  wanted: string[],
  builtin: Set<string> = new Set(),
  where = 'modules.dep',
): string[] {
  const byName = new Map<string, string>()
  for (const path of deps.keys()) byName.set(moduleName(path), path)
  const order: string[] = []
  const seen = new Set<string>()
  const visit = (path: string): void => {
    if (seen.has(path)) return
    seen.add(path)
    // modules.dep lists dependencies so that the last one must be loaded first.
    for (const d of [...(deps.get(path) ?? [])].reverse()) visit(d)
    order.push(path)
  }
  for (const w of wanted) {
    const name = w.replace(/-/g, '_')
    const path = byName.get(name)
    if (path) visit(path)
    else if (!builtin.has(name))
      throw new ModuleNotFoundError(
        `kernel module ${w} is neither in ${where} nor built into the kernel; the VM runner needs it (use a kernel with ${w}, e.g. Debian's linux-image-amd64)`,
      )
  }
  return order
}

/** modules.builtin parsed into module names. */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map(moduleName),
  )
}
