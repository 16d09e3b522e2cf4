/**
 * The naming rule of `npm run test:unit`: a test file named `*.pure.test.ts`
 * is pure (no root, no namespaces; it may run tools such as tshark), and
 * test:unit runs exactly those files. A pure test could still make a
 * namespace by importing what makes them, so this checks each one: the
 * modules it loads at run time (its imports, followed through the
 * repository, type-only imports left out as the compiler erases them) never
 * reach harness/netns, the layer that creates and enters namespaces and on
 * which everything that builds a lab stands; and no test file among them
 * calls the namespace syscalls or `ip netns` itself. A child process is not
 * followed (docker.pure.test.ts runs the CLI's `container gc`, which makes no
 * namespace); CI's lint job runs test:unit without root, where making one
 * fails.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(new URL('../..', import.meta.url).pathname)
const PURE = /\.pure\.test\.ts$/
const NAMESPACE_LAYER = 'harness/netns/'
/** This file names the namespace calls it looks for, and calls none. */
const SELF = 'test/lint/pure-tests.pure.test.ts'

function testFiles(): string[] {
  return (readdirSync(join(ROOT, 'test'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join('test', f))
    .sort()
}

/** The repository modules `file` (relative to the root) loads at run time, directly. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest)
  const specifiers: string[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly) {
      specifiers.push((node.moduleSpecifier as ts.StringLiteral).text)
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly) {
      specifiers.push((node.moduleSpecifier as ts.StringLiteral).text)
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      specifiers.push(node.arguments[0].text)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  const out: string[] = []
  for (const s of specifiers) {
    if (!s.startsWith('.')) continue // node: builtins and packages
    const target = resolve(ROOT, dirname(file), s)
    const candidates = [target.replace(/\.js$/, '.ts'), target.replace(/\.mjs$/, '.mts'), target]
    const found = candidates.find((c) => existsSync(c))
    if (found === undefined) throw new Error(`${file}: cannot resolve ${s}`)
    if (/\.(ts|mts|js|mjs)$/.test(found)) out.push(relative(ROOT, found))
  }
  return out
}

/** Every repository module loading `file` loads at run time, `file` included. */
function closure(file: string): Set<string> {
  const seen = new Set<string>()
  const todo = [file]
  while (todo.length > 0) {
    const next = todo.pop()!
    if (seen.has(next)) continue
    seen.add(next)
    if (/\.m?ts$/.test(next)) todo.push(...runtimeImports(next))
  }
  return seen
}

/** Whether `file`'s code (comments aside) calls the namespace syscalls or runs `ip netns` or unshare. */
function makesNamespaces(file: string): boolean {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest)
  let found = false
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression
      const name = ts.isIdentifier(callee)
        ? callee.text
        : ts.isPropertyAccessExpression(callee)
          ? callee.name.text
          : ''
      if (name === 'unshare' || name === 'setns') found = true
    } else if (ts.isStringLiteralLike(node) && /^(netns|unshare)$|\bip netns\b|^unshare /.test(node.text)) {
      found = true
    } else if (ts.isIdentifier(node) && node.text === 'CLONE_NEWNET') {
      found = true
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

/** Why `file` is not pure, or nothing. */
function impurities(file: string): string[] {
  const modules = [...closure(file)]
  return [
    ...modules.filter((m) => m.startsWith(NAMESPACE_LAYER)).map((m) => `loads ${m}`),
    ...modules
      .filter((m) => m.startsWith('test/') && m !== SELF && makesNamespaces(m))
      .map((m) => `${m} makes or enters namespaces`),
  ]
}

describe('pure tests: named *.pure.test.ts, and truly pure', () => {
  const pure = testFiles().filter((f) => PURE.test(f))

  it('npm run test:unit runs the files the rule names, and the fuzz runs are among them', () => {
    const scripts = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts
    expect(scripts['test:unit']).toMatch(/vitest run \.pure\.test\.ts$/)
    expect(pure).toContain('test/lint/pure-tests.pure.test.ts')
    for (const f of scripts['fuzz']!.split(' ').filter((w) => w.startsWith('test/')))
      expect(pure).toContain(f)
  })

  it.each(pure)('%s loads nothing that makes namespaces', (file) => {
    expect(impurities(file)).toEqual([])
  })

  it('the check sees a test that makes namespaces (test/netlink/link.test.ts)', () => {
    expect(impurities('test/netlink/link.test.ts')).toContain('loads harness/netns/index.ts')
  })
})
