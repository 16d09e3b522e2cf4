/**
 * The layers of DESIGN.md are enforced by lint (eslint.config.js): an
 * import that climbs into a higher layer fails `npm run lint`. Each case is
 * linted as if it were a file of harness/, by ESLint itself.
 */
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname })

async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: file })
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

describe('lint enforces the layers', () => {
  it.each([
    [
      'harness/netns/upward.ts',
      "import { Lab } from '../lab/index.js'\nvoid Lab\n",
      'harness/netns sits below',
    ],
    ['harness/netlink/codec/upward.ts', "import { gc } from '../../lab/gc.js'\nvoid gc\n", 'harness/netlink'],
    [
      'harness/sys/upward.ts',
      "import { openNetns } from '../netns/index.js'\nvoid openNetns\n",
      'harness/sys',
    ],
    [
      'harness/lab/upward.ts',
      "import { runScenario } from '../scenario/index.js'\nvoid runScenario\n",
      'harness/lab',
    ],
    [
      'harness/checks/upward.ts',
      "import type { Lab } from '../lab/lab.js'\nexport type X = Lab\n",
      'harness/checks',
    ],
    [
      'harness/vitest/upward.ts',
      "import { program } from '../cli/program.js'\nvoid program\n",
      'harness/vitest',
    ],
    ['harness/lab/koffi.ts', "import koffi from 'koffi'\nvoid koffi\n", 'Only harness/sys imports koffi'],
  ])('%s: an upward import is an error', async (file, code, says) => {
    const errors = await layerErrors(file, code)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(says)
  })

  it.each([
    ['harness/lab/down.ts', "import { openNetns } from '../netns/index.js'\nvoid openNetns\n"],
    [
      'harness/vpn/nm/down.ts',
      "import type { LabNode } from '../../lab/index.js'\nexport type X = LabNode\n",
    ],
    ['harness/cli/down.ts', "import { Lab } from '../lab/index.js'\nvoid Lab\n"],
    ['harness/netlink/codec/messages/down.ts', "import { AF } from '../constants.js'\nvoid AF\n"],
    ['harness/sys/koffi.ts', "import koffi from 'koffi'\nvoid koffi\n"],
  ])('%s: a downward or sideways import is fine', async (file, code) => {
    expect(await layerErrors(file, code)).toEqual([])
  })
})
