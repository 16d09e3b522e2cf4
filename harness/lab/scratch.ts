/**
 * A lone named namespace owned the way a lab is (a record naming it), for
 * the Vitest `netns` fixture and the feature probes: if this process dies
 * before deleting it, `nslab gc` finds it through the record, and nothing
 * else is ever taken for it.
 */
import { addNetns } from '../netns/index.js'
import { killAndDelete } from './gc.js'
import { netnsName, newLabId } from './names.js'
import { LabRecord } from './owner.js'

export class ScratchNetns {
  private deleted = false

  private constructor(
    readonly name: string,
    private readonly record: LabRecord,
  ) {}

  /** Make `nslab-<fresh id>-<tag>`, named in a record of its own first. */
  static create(tag: string): ScratchNetns {
    for (let attempt = 0; attempt < 20; attempt++) {
      const id = newLabId()
      const record = LabRecord.claim(id, netnsName(id, ''))
      if (!record) continue
      const name = netnsName(id, tag)
      try {
        record.addNamespaces([name])
        addNetns(name)
      } catch (err) {
        record.release()
        throw err
      }
      return new ScratchNetns(name, record)
    }
    throw new Error('could not find a free lab id for a namespace after 20 tries (see: nslab ls)')
  }

  /** Kill what runs inside, delete the namespace, drop the record. Idempotent. */
  delete(): void {
    if (this.deleted) return
    this.deleted = true
    const errors: string[] = []
    killAndDelete([this.name], errors)
    if (errors.length > 0) throw new Error(`namespace ${this.name}: ${errors.join('; ')} (run: nslab gc)`)
    this.record.release()
  }
}
