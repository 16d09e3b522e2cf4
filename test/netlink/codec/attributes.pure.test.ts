import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  AttrWriter,
  decodeAttributes,
  findAllAttributes,
  findAttribute,
  indexAttributes,
  readBe16,
  readBe32,
  readNested,
  readS32,
  readString,
  readU16,
  readU32,
  readU64,
  readU8,
  type Attribute,
} from '../../../harness/netlink/codec/attributes.js'
import { IFLA, IFLA_INFO, NLA_F_NESTED } from '../../../harness/netlink/codec/constants.js'
import { NetlinkDecodeError, NetlinkEncodeError } from '../../../harness/netlink/codec/errors.js'
import { vethAdd } from './fixtures/link.js'
import { payloadOf, sentMessage } from './helpers.js'

function decodeError(fn: () => unknown): NetlinkDecodeError {
  try {
    fn()
  } catch (err) {
    if (err instanceof NetlinkDecodeError) return err
    throw err
  }
  throw new Error('expected a NetlinkDecodeError')
}

function attrOf(hex: string, offset = 0): Attribute {
  const [attr] = decodeAttributes(Buffer.from(hex, 'hex'), offset)
  if (attr === undefined) throw new Error('no attribute')
  return attr
}

describe('decodeAttributes', () => {
  it('decodes the attributes of a request sent by ip, nested ones included', () => {
    // ip link add nslabfx0 type veth peer name nslabfx1: ifinfomsg (16 bytes) then attributes
    const payload = payloadOf(sentMessage(vethAdd, 1))
    const attrs = decodeAttributes(payload.subarray(16), 32)
    expect(attrs.map((a) => [a.type, a.offset, a.value.length])).toEqual([
      [IFLA.IFNAME, 32, 9],
      [IFLA.LINKINFO, 48, 48],
    ])
    expect(readString(attrs[0] as Attribute)).toBe('nslabfx0')
    const info = readNested(attrs[1] as Attribute)
    expect(info.map((a) => [a.type, a.offset])).toEqual([
      [IFLA_INFO.KIND, 52],
      [IFLA_INFO.DATA, 60],
    ])
    // iproute2 sends IFLA_INFO_KIND without a NUL terminator
    expect(info[0]?.value.toString()).toBe('veth')
    expect(readString(info[0] as Attribute)).toBe('veth')
  })

  it('masks NLA_F_NESTED and NLA_F_NET_BYTEORDER off the type', () => {
    const attr = attrOf('0800' + '1280' + '01020304')
    expect(attr.type).toBe(0x12)
    expect(attr.nested).toBe(true)
    expect(attr.netByteOrder).toBe(false)
    const be = attrOf('0600' + '0f40' + '12b50000')
    expect(be).toMatchObject({ type: 15, nested: false, netByteOrder: true })
    expect(readBe16(be)).toBe(4789)
  })

  it('keeps repeated attributes in order; lookups take the last, like nla_parse', () => {
    const w = new AttrWriter().string(IFLA.ALT_IFNAME, 'a').u32(IFLA.MTU, 1).string(IFLA.ALT_IFNAME, 'b')
    const attrs = decodeAttributes(w.toBuffer())
    expect(findAllAttributes(attrs, IFLA.ALT_IFNAME).map(readString)).toEqual(['a', 'b'])
    expect(readString(findAttribute(attrs, IFLA.ALT_IFNAME) as Attribute)).toBe('b')
    expect(readString(indexAttributes(attrs).get(IFLA.ALT_IFNAME) as Attribute)).toBe('b')
    expect(findAttribute(attrs, IFLA.MASTER)).toBeUndefined()
  })

  it('accepts a final attribute without its padding', () => {
    const attrs = decodeAttributes(Buffer.from('0500010007', 'hex'))
    expect(attrs.map((a) => a.value.toString('hex'))).toEqual(['07'])
  })

  it('reports an attribute longer than what remains, with its absolute offset', () => {
    const buf = Buffer.concat([Buffer.alloc(16), Buffer.from('78000300', 'hex'), Buffer.alloc(16)])
    const err = decodeError(() => decodeAttributes(buf.subarray(16), 36))
    expect(err.reason).toBe('bad-attribute-length')
    expect(err.offset).toBe(36)
    expect(err.message).toBe('netlink: attribute at offset 36 claims length 120 but only 20 bytes remain')
  })

  it('rejects nla_len below the header size and trailing bytes too short for a header', () => {
    expect(decodeError(() => decodeAttributes(Buffer.from('02000100', 'hex'))).reason).toBe(
      'bad-attribute-length',
    )
    expect(decodeError(() => decodeAttributes(Buffer.from('0400010000', 'hex')))).toMatchObject({
      reason: 'truncated-attribute',
      offset: 4,
    })
  })
})

describe('typed readers', () => {
  it('read host-order integers, network-order integers and strings', () => {
    expect(readU8(attrOf('05000100ff'))).toBe(255)
    expect(readU16(attrOf('060001003412'))).toBe(0x1234)
    expect(readU32(attrOf('0800010078563412'))).toBe(0x12345678)
    expect(readS32(attrOf('08000100ffffffff'))).toBe(-1)
    expect(readU64(attrOf('0c0001000100000002000000'))).toBe(0x200000001n)
    expect(readBe32(attrOf('0800010012345678'))).toBe(0x12345678)
    expect(readString(attrOf('0900010068656c6c6f'))).toBe('hello')
    expect(readString(attrOf('0800010068690065'))).toBe('hi')
  })

  it('reject a value of the wrong size with the attribute name and offset', () => {
    const err = decodeError(() => readU32(attrOf('060004000100', 40), 'IFLA_MTU (4)'))
    expect(err.reason).toBe('bad-attribute-value')
    expect(err.offset).toBe(40)
    expect(err.message).toBe('netlink: IFLA_MTU (4) at offset 40 must be 4 bytes but is 2')
    for (const read of [readU8, readU16, readU32, readS32, readU64, readBe16, readBe32]) {
      expect(() => read(attrOf('0b000100000000000000ff'))).toThrow(NetlinkDecodeError)
    }
  })
})

describe('AttrWriter', () => {
  it('writes NUL-terminated strings padded to 4 bytes', () => {
    expect(new AttrWriter().string(IFLA.IFNAME, 'nslabfx0').toBuffer().toString('hex')).toBe(
      '0d0003006e736c616266783000000000',
    )
  })

  it('nests attributes, the outer length covering the inner padding', () => {
    const buf = new AttrWriter()
      .nested(IFLA.LINKINFO, (w) => w.stringNoNul(IFLA_INFO.KIND, 'bridge'))
      .toBuffer()
    expect(buf.toString('hex')).toBe('10001200' + '0a000100' + '6272696467650000')
  })

  it('writes each integer width and byte order', () => {
    const buf = new AttrWriter()
      .u8(1, 0xab)
      .u16(2, 0x1234)
      .u32(3, 0xdeadbeef)
      .s32(4, -2)
      .u64(5, 0x0102030405060708n)
      .be16(6, 4789)
      .be32(7, 0x01020304)
      .flag(8)
      .toBuffer()
    expect(buf.toString('hex')).toBe(
      [
        '05000100ab000000',
        '0600020034120000',
        '08000300efbeadde',
        '08000400feffffff',
        '0c0005000807060504030201',
        '0600060012b50000',
        '0800070001020304',
        '04000800',
      ].join(''),
    )
  })

  it('reserves zeroed room for a fixed header, filled in place; finish() is the bytes without a copy', () => {
    const w = new AttrWriter(16)
    w.buffer.fill(0xff) // as unzeroed pool memory may be: zeros() clears what it reserves, padding included
    const at = w.zeros(6)
    w.buffer[at] = 0x0a
    w.u32(IFLA.MTU, 1500) // grows the buffer past its 16 bytes: the header moves with it
    const out = w.finish()
    expect(out.toString('hex')).toBe('0a0000000000000008000400dc050000')
    expect(out.buffer).toBe(w.buffer.buffer)
    expect(w.toBuffer()).toEqual(out)
  })

  it('rejects values that do not fit', () => {
    const w = new AttrWriter()
    expect(() => w.u8(1, 256)).toThrow(NetlinkEncodeError)
    expect(() => w.u16(1, -1)).toThrow(NetlinkEncodeError)
    expect(() => w.u32(1, 2 ** 32)).toThrow(NetlinkEncodeError)
    expect(() => w.s32(1, 2 ** 31)).toThrow(NetlinkEncodeError)
    expect(() => w.u32(1, 1.5)).toThrow(NetlinkEncodeError)
    expect(() => w.u64(1, -1n)).toThrow(NetlinkEncodeError)
    expect(() => w.attr(0x10000, Buffer.alloc(0))).toThrow(NetlinkEncodeError)
    expect(() => w.attr(1, Buffer.alloc(0xffff))).toThrow(/at most 65535/)
    expect(() => w.nested(1, (n) => n.attr(2, Buffer.alloc(0xfff9)))).toThrow(/nested attribute type 1/)
  })
})

/** A tree of attributes for round-trip properties. */
type Tree = { type: number; value: Uint8Array } | { type: number; children: Tree[] }

const { tree: treeArb } = fc.letrec<{ tree: Tree; leaf: Tree; node: Tree }>((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('node')),
  leaf: fc.record({ type: fc.nat({ max: 0x3fff }), value: fc.uint8Array({ maxLength: 40 }) }),
  node: fc.record({
    type: fc.nat({ max: 0x3fff }),
    children: fc.array(tie('tree'), { maxLength: 4 }),
  }),
}))

function writeTree(w: AttrWriter, tree: Tree): void {
  if ('children' in tree)
    w.nested(tree.type | NLA_F_NESTED, (n) => tree.children.forEach((c) => writeTree(n, c)))
  else w.attr(tree.type, tree.value)
}

function readTree(attr: Attribute): Tree {
  if (attr.nested) return { type: attr.type, children: readNested(attr).map(readTree) }
  return { type: attr.type, value: new Uint8Array(attr.value) }
}

describe('attribute round trips', () => {
  it('decode(encode(tree)) gives back the tree, for random types, lengths and nesting', () => {
    fc.assert(
      fc.property(fc.array(treeArb, { maxLength: 6 }), (trees) => {
        const w = new AttrWriter(16)
        trees.forEach((t) => writeTree(w, t))
        const buf = w.toBuffer()
        expect(buf.length % 4).toBe(0)
        expect(decodeAttributes(buf).map(readTree)).toEqual(
          trees.map(function normalise(t): Tree {
            return 'children' in t
              ? { type: t.type, children: t.children.map(normalise) }
              : { type: t.type, value: new Uint8Array(t.value) }
          }),
        )
      }),
    )
  })

  it('integers read back what was written', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xff }),
        fc.nat({ max: 0xffff }),
        fc.nat({ max: 0xffffffff }),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (u8, u16, u32, s32, u64) => {
          const buf = new AttrWriter()
            .u8(1, u8)
            .u16(2, u16)
            .u32(3, u32)
            .s32(4, s32)
            .u64(5, u64)
            .be16(6, u16)
            .be32(7, u32)
            .toBuffer()
          const [a, b, c, d, e, f, g] = decodeAttributes(buf) as [
            Attribute,
            Attribute,
            Attribute,
            Attribute,
            Attribute,
            Attribute,
            Attribute,
          ]
          expect([
            readU8(a),
            readU16(b),
            readU32(c),
            readS32(d),
            readU64(e),
            readBe16(f),
            readBe32(g),
          ]).toEqual([u8, u16, u32, s32, u64, u16, u32])
        },
      ),
    )
  })

  it('strings without NUL read back', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).filter((s) => !s.includes('\0')),
        (s) => {
          const [a, b] = decodeAttributes(new AttrWriter().string(1, s).stringNoNul(2, s).toBuffer()) as [
            Attribute,
            Attribute,
          ]
          expect([readString(a), readString(b)]).toEqual([s, s])
        },
      ),
    )
  })
})
