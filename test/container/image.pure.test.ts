// The runner image's content hash and the Debian mirror found in apt's sources.
import { describe, expect, it } from 'vitest'
import { debianMirror, imageHash, imageTag, RUNNER_PACKAGES } from '../../harness/container/image.js'

const base = { suite: 'bookworm', packages: RUNNER_PACKAGES, nodeSha256: 'a'.repeat(64) }

describe('imageHash', () => {
  it('is stable for the same inputs, whatever the package order', () => {
    expect(imageHash(base)).toBe(imageHash({ ...base, packages: [...RUNNER_PACKAGES].reverse() }))
    expect(imageHash(base)).toMatch(/^[0-9a-f]{16}$/)
    expect(imageTag(imageHash(base))).toBe(`nslab-runner:${imageHash(base)}`)
  })
  it('changes with the Node binary, the suite, the packages and the base image', () => {
    const h = imageHash(base)
    const others = [
      imageHash({ ...base, nodeSha256: 'b'.repeat(64) }),
      imageHash({ ...base, suite: 'trixie' }),
      imageHash({ ...base, packages: [...RUNNER_PACKAGES, 'tcpdump'] }),
      imageHash({ packages: RUNNER_PACKAGES, nodeSha256: base.nodeSha256, base: 'debian:bookworm-slim' }),
    ]
    expect(new Set([h, ...others]).size).toBe(5)
  })
})

describe('debianMirror', () => {
  it('reads deb822 sources, skipping other suites and deb-src', () => {
    const security =
      'Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\nComponents: main\n'
    const src = 'Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n'
    const main =
      'Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n'
    expect(debianMirror([`${security}\n${src}\n${main}`])).toBe('http://deb.example/debian')
  })
  it('reads one-line sources, with options', () => {
    expect(debianMirror(['# comment\ndeb [arch=amd64] http://one.example/debian bookworm main\n'])).toBe(
      'http://one.example/debian',
    )
    expect(debianMirror(['deb http://one.example/debian trixie main'], 'trixie')).toBe(
      'http://one.example/debian',
    )
  })
  it('says nothing when no source serves the suite', () => {
    expect(debianMirror(['deb https://packages.example/apt cloud-sdk main', ''])).toBeUndefined()
  })
})
