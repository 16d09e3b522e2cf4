// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const KOFFI = { name: 'koffi', message: 'Only harness/sys imports koffi.' }

/**
 * What each folder of harness/ must not import (DESIGN.md's layers,
 * dependencies pointing down only):
 *
 *   cli/  vitest/  scenario/            what users touch
 *   lab/  vpn/                          topology, tunnels
 *   checks/  capture/                   traffic and packets (lab composes them)
 *   container/                          beside lab (reads its owner records)
 *   netns/  netlink/                    namespaces and rtnetlink
 *   sys/                                the only place that calls libc
 *   util/                               pure helpers
 */
const USERS = ['cli', 'vitest', 'scenario']
const LAYERS = {
  util: ['sys', 'netns', 'netlink', 'lab', 'checks', 'vpn', 'capture', 'trace', 'container', ...USERS],
  sys: ['netns', 'netlink', 'lab', 'checks', 'vpn', 'capture', 'trace', 'container', ...USERS],
  netns: ['netlink', 'lab', 'checks', 'vpn', 'capture', 'trace', 'container', ...USERS],
  netlink: ['lab', 'checks', 'vpn', 'capture', 'trace', 'container', ...USERS],
  checks: ['lab', 'vpn', 'capture', 'trace', 'container', ...USERS],
  capture: ['lab', 'checks', 'vpn', 'trace', 'container', ...USERS],
  lab: ['vpn', 'trace', 'container', ...USERS],
  vpn: ['capture', 'trace', 'container', ...USERS],
  trace: ['container', ...USERS],
  container: [...USERS],
  scenario: ['vitest', 'cli'],
  vitest: ['cli'],
}

/** An import that climbs out of its folder into one of `forbidden` (`../lab/x.js`, `../../lab/x.js`). */
function layerRule(folder, forbidden) {
  return {
    files: [`harness/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: folder === 'sys' ? [] : [KOFFI],
          patterns: [
            {
              regex: `^(\\.\\./)+(${forbidden.join('|')})(/|$)`,
              message: `harness/${folder} sits below ${forbidden.join(', ')} (DESIGN.md's layers): it must not import from them.`,
            },
          ],
        },
      ],
    },
  }
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': 'off',
    },
  },
  {
    // Only harness/sys may talk to libc.
    files: ['harness/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    ignores: ['harness/sys/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [KOFFI] }],
    },
  },
  {
    // The trace page's own script runs in the browser (harness/trace/page.ts inlines it), as a classic script.
    files: ['harness/trace/page/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        history: 'readonly',
        DOMParser: 'readonly',
        Element: 'readonly',
        Node: 'readonly',
      },
    },
  },
  // The layers of DESIGN.md, enforced: a folder may import only the folders below it.
  ...Object.entries(LAYERS).map(([folder, forbidden]) => layerRule(folder, forbidden)),
  {
    // The VM runner sits beside the library: it may use the lower layers, never the CLI or Vitest layers.
    files: ['vm/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'koffi', message: 'Only harness/sys imports koffi.' }],
          patterns: [
            {
              group: ['**/harness/cli/**', '**/harness/vitest/**'],
              message: 'vm/ must not import from harness/cli or harness/vitest.',
            },
          ],
        },
      ],
    },
  },
)
