// @ts-check
/**
 * The nslab trace page: reads the TraceData embedded in
 * <script id="trace-data"> and draws four panes around one cursor (an
 * event): the topology coloured as links stood at the cursor, the
 * timeline, the packets nearest the cursor, and the hosts' state.
 *
 * Plain browser JavaScript, inlined into the page by harness/trace/page.ts.
 * Every string from the data is untrusted: it reaches the DOM only as text
 * (textContent, text nodes, attribute values), never as markup.
 */
;(() => {
  'use strict'
  /** @typedef {import('../data.js').TraceData} TraceData */
  /** @typedef {import('../data.js').TraceEvent} TraceEvent */
  /** @typedef {import('../data.js').TracePacket} TracePacket */
  /** @typedef {import('../data.js').LinkStatus} LinkStatus */

  const PACKET_WINDOW = 200
  const SVG_NS = 'http://www.w3.org/2000/svg'

  const dataEl = document.getElementById('trace-data')
  /** @type {TraceData} */
  const data = JSON.parse((dataEl && dataEl.textContent) || '{}')
  const events = data.events || []
  /** Event indices in time order (stable): the timeline's order and the replay's. */
  const order = events.map((_, i) => i).sort((x, y) => events[x].t - events[y].t || x - y)
  /** @type {number[]} position of each event in `order` */
  const pos = []
  order.forEach((i, p) => (pos[i] = p))
  const packets = [...(data.packets || [])].sort((a, b) => a.t - b.t)

  // ---- helpers -------------------------------------------------------------

  /**
   * An element with attributes (values set as attribute text) and children (strings become text nodes).
   * @param {string} tag
   * @param {Record<string, string | undefined>} [attrs]
   * @param {...(Node | string | null | undefined | false)} children
   * @returns {HTMLElement}
   */
  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v)
    for (const c of children) if (c || c === '') el.append(c)
    return el
  }

  /** @param {number} t microseconds since the epoch */
  function rel(t) {
    const s = (t - data.started) / 1e6
    return `${s < 0 ? '−' : '+'}${Math.abs(s).toFixed(3)} s`
  }

  /** @param {number} t */
  function clock(t) {
    const d = new Date(t / 1000)
    return isNaN(d.getTime()) ? String(t) : d.toISOString()
  }

  /** @param {number} us */
  function duration(us) {
    if (us < 1000) return `${Math.round(us)} µs`
    if (us < 1e6) return `${(us / 1000).toFixed(1)} ms`
    return `${(us / 1e6).toFixed(2)} s`
  }

  /** @param {number} n @param {string} word */
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`

  // ---- layout --------------------------------------------------------------

  const failure = data.failure !== undefined ? events[data.failure] : undefined
  const header = h(
    'header',
    { id: 'header' },
    h('h1', { id: 'title' }, data.title),
    h(
      'p',
      { class: 'meta' },
      'lab ',
      h('b', { id: 'lab' }, data.lab),
      ` · started ${clock(data.started)} · written ${rel(data.written)} · `,
      `${plural(events.length, 'event')} · ${plural(packets.length, 'packet')} · ${plural((data.states || []).length, 'state snapshot')}`,
    ),
  )
  if (failure) {
    header.append(
      h(
        'div',
        { id: 'failure', class: 'failure' },
        h('span', { class: 'mark fail', 'aria-hidden': 'true' }, '✗ '),
        h('span', { class: 'failure-title' }, failure.title),
        ` (${rel(failure.t)})`,
        failure.detail ? h('pre', { class: 'failure-detail' }, failure.detail) : null,
      ),
    )
  }
  if (data.pcapng) {
    // A relative path only: never a scheme (javascript:, http:) from the data.
    if (/^[a-z][a-z0-9+.-]*:/i.test(data.pcapng) || data.pcapng.startsWith('//'))
      header.append(h('p', { class: 'pcapng' }, 'pcapng: ', h('code', {}, data.pcapng)))
    else
      header.append(
        h(
          'p',
          { class: 'pcapng' },
          h('a', { id: 'pcapng', href: data.pcapng, download: '' }, 'packets: open in Wireshark'),
          ' ',
          h('code', {}, data.pcapng),
        ),
      )
  }
  const tr = data.truncated || { notes: [] }
  if (tr.packets || tr.events || (tr.notes && tr.notes.length)) {
    const banner = h('div', { id: 'truncation', class: 'banner', role: 'status' })
    const what = failure ? 'the failure' : 'the last event'
    if (tr.packets) {
      const total = tr.packets.kept + tr.packets.dropped
      banner.append(
        h(
          'p',
          {},
          `${tr.packets.kept} of ${total} packets kept: the ${tr.packets.dropped} farthest from ${what} were left out of this page.`,
        ),
      )
    }
    if (tr.events) {
      const total = tr.events.kept + tr.events.dropped
      banner.append(
        h(
          'p',
          {},
          `${tr.events.kept} of ${total} events kept: the ${tr.events.dropped} oldest were left out of this page.`,
        ),
      )
    }
    for (const n of tr.notes || []) banner.append(h('p', {}, n))
    header.append(banner)
  }

  const kinds = [...new Set(events.map((e) => e.kind))]
  const filters = h('fieldset', { class: 'filters' }, h('legend', {}, 'Show'))
  for (const k of kinds) {
    const n = events.filter((e) => e.kind === k).length
    const box = h('input', { type: 'checkbox', 'data-kind': k, checked: '' })
    filters.append(h('label', {}, box, ` ${k} (${n})`))
  }
  const list = h('ol', { id: 'timeline', role: 'listbox', tabindex: '0', 'aria-label': 'Timeline' })
  /** @type {HTMLElement[]} the option of each event, by event index */
  const options = []
  for (const i of order) {
    const e = events[i]
    const li = h(
      'li',
      {
        id: `event-${i}`,
        role: 'option',
        'aria-selected': 'false',
        'data-index': String(i),
        'data-kind': e.kind,
        class: e.ok === false || e.kind === 'failure' ? 'failed' : undefined,
      },
      h('span', { class: 'time' }, rel(e.t)),
      h('span', { class: `badge kind-${e.kind}` }, e.kind),
      e.ok === true ? h('span', { class: 'mark ok', title: 'held' }, '✓') : null,
      e.ok === false ? h('span', { class: 'mark fail', title: 'failed' }, '✗') : null,
      h('span', { class: 'title' }, e.title),
      e.node ? h('span', { class: 'node', title: e.node }, e.node) : null,
      e.durationUs !== undefined ? h('span', { class: 'duration' }, duration(e.durationUs)) : null,
    )
    options[i] = li
    list.append(li)
  }
  const detail = h('div', { id: 'event-detail', 'aria-live': 'polite' })
  const timelinePane = h(
    'section',
    { id: 'timeline-pane', class: 'pane', 'aria-label': 'Timeline' },
    h('h2', {}, 'Timeline'),
    filters,
    list,
    detail,
  )

  const topo = h('div', { id: 'topology' })
  const linkStates = h('ul', { id: 'link-states', 'aria-label': 'Links at the cursor' })
  const legend = h(
    'p',
    { class: 'legend' },
    ...['up', 'down', 'impaired', 'partitioned', 'absent'].map((s) =>
      h('span', { class: `swatch state-${s}` }, s === 'absent' ? 'not yet made' : s),
    ),
  )
  const topologyPane = h(
    'section',
    { id: 'topology-pane', class: 'pane', 'aria-label': 'Topology' },
    h('h2', {}, 'Topology'),
    topo,
    legend,
    linkStates,
  )

  const hostSelect = /** @type {HTMLSelectElement} */ (h('select', { id: 'host', 'aria-label': 'Host' }))
  const hostNames = [...new Set((data.states || []).flatMap((s) => s.hosts.map((x) => x.name)))]
  for (const n of hostNames) hostSelect.append(h('option', { value: n }, n))
  const stateView = h('div', { id: 'state' })
  const statePane = h(
    'section',
    { id: 'state-pane', class: 'pane', 'aria-label': 'State' },
    h('h2', {}, 'State ', hostSelect),
    stateView,
  )

  const linkSelect = /** @type {HTMLSelectElement} */ (
    h('select', { id: 'link-filter', 'aria-label': 'Link' })
  )
  linkSelect.append(h('option', { value: '*' }, 'all links'))
  const linkIds = [
    ...new Set([...(data.topology?.links || []).map((l) => l.id), ...packets.map((p) => p.link)]),
  ]
  for (const id of linkIds) if (id) linkSelect.append(h('option', { value: id }, id))
  if (packets.some((p) => !p.link)) linkSelect.append(h('option', { value: '' }, 'not on a lab link'))
  const packetSummary = h('span', { id: 'packets-summary' })
  const packetBody = h('tbody')
  const packetTable = h(
    'table',
    { id: 'packets' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['time', 'where', 'link', '', 'protocol', 'source', 'destination', 'length', 'info'].map((c) =>
          h('th', {}, c),
        ),
      ),
    ),
    packetBody,
  )
  const packetsPane = h(
    'section',
    { id: 'packets-pane', class: 'pane', 'aria-label': 'Packets' },
    h('h2', {}, 'Packets ', linkSelect, ' ', packetSummary),
    h('div', { class: 'scroll' }, packetTable),
  )

  document.body.append(header, h('main', { id: 'panes' }, timelinePane, topologyPane, statePane, packetsPane))

  // ---- topology ------------------------------------------------------------

  /**
   * The SVG from the data, parsed as XML and cleaned of anything active
   * (scripts, handlers, foreign content, links out) before it joins the page.
   * @param {string} text
   */
  function inlineSvg(text) {
    if (!text) return topo.append(h('p', { class: 'empty' }, 'No topology drawing.'))
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml')
    const root = doc.documentElement
    if (root.namespaceURI !== SVG_NS || root.localName !== 'svg' || doc.querySelector('parsererror'))
      return topo.append(h('p', { class: 'empty' }, 'The topology drawing could not be read.'))
    for (const el of [...root.querySelectorAll('*'), root]) {
      if (/^(script|foreignObject|iframe|object|embed|style|a)$/i.test(el.localName) && el !== root) {
        // keep an <a>'s drawing, lose the link
        if (el.localName === 'a') el.replaceWith(...el.childNodes)
        else el.remove()
        continue
      }
      for (const a of [...el.attributes]) {
        const v = a.value.trim()
        if (/^on/i.test(a.localName)) el.removeAttribute(a.name)
        else if (a.localName === 'href' && !v.startsWith('#') && !/^data:image\//i.test(v))
          el.removeAttribute(a.name)
        else if (/url\s*\(\s*['"]?(?!#)/i.test(v)) el.removeAttribute(a.name)
      }
    }
    topo.append(document.importNode(root, true))
  }
  inlineSvg(data.svg)

  /** Links and tunnels the page colours: id → the SVG element and the event position it was made at. */
  const drawn = [
    ...(data.topology?.links || []).map((l) => ({ id: l.id, el: document.getElementById(`link-${l.id}`) })),
    ...(data.topology?.tunnels || []).map((t) => ({
      id: t.id,
      el: document.getElementById(`tunnel-${t.id}`),
    })),
  ]
  /** @type {Map<string, number>} the position in `order` where each link was made */
  const madeAt = new Map()
  for (const i of order) {
    const e = events[i]
    const made = [...(e.kind === 'lab' ? e.links || [] : []), ...Object.keys(e.linkState || {})]
    for (const id of made) if (!madeAt.has(id)) madeAt.set(id, pos[i])
  }
  /** @type {Element[]} */
  let focused = []

  /** @param {number} cursor an event index */
  function drawTopology(cursor) {
    const upTo = pos[cursor]
    /** @type {Map<string, LinkStatus>} */
    const state = new Map()
    for (let p = 0; p <= upTo && p < order.length; p++) {
      const e = events[order[p]]
      for (const [id, s] of Object.entries(e.linkState || {})) state.set(id, s)
    }
    linkStates.replaceChildren()
    for (const { id, el } of drawn) {
      const made = madeAt.has(id) ? /** @type {number} */ (madeAt.get(id)) <= upTo : true
      const s = made ? state.get(id) || 'up' : 'absent'
      if (el) el.setAttribute('data-state', s)
      linkStates.append(h('li', { 'data-link': id, 'data-state': s }, h('code', {}, id), ` ${s}`))
    }
    for (const el of focused) el.classList.remove('focus')
    const e = events[cursor]
    focused = [
      e.node ? document.getElementById(`node-${e.node}`) : null,
      ...(e.links || []).flatMap((id) => [
        document.getElementById(`link-${id}`),
        document.getElementById(`tunnel-${id}`),
      ]),
    ].filter((x) => x !== null)
    for (const el of focused) el.classList.add('focus')
  }

  // ---- packets -------------------------------------------------------------

  /** @type {TracePacket[]} */
  let shownPackets = packets
  /** @param {number} t */
  function drawPackets(t) {
    const n = shownPackets.length
    packetBody.replaceChildren()
    if (!n) {
      packetSummary.textContent = packets.length ? 'none on this link' : 'none recorded'
      return
    }
    // The first at or after t, then the nearer of it and the one before.
    let lo = 0
    let hi = n
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (shownPackets[mid].t < t) lo = mid + 1
      else hi = mid
    }
    let nearest = lo
    if (nearest === n || (nearest > 0 && t - shownPackets[nearest - 1].t <= shownPackets[nearest].t - t))
      nearest--
    let from = nearest
    let to = nearest + 1
    while (to - from < PACKET_WINDOW && (from > 0 || to < n)) {
      if (to >= n || (from > 0 && t - shownPackets[from - 1].t <= shownPackets[to].t - t)) from--
      else to++
    }
    let nearestRow = null
    for (let i = from; i < to; i++) {
      const p = shownPackets[i]
      const row = h(
        'tr',
        { class: i === nearest ? 'nearest' : undefined, 'aria-current': i === nearest ? 'true' : undefined },
        h('td', { class: 'time' }, rel(p.t)),
        h('td', { class: 'where' }, `${p.node} ${p.device}`),
        h('td', { class: 'link' }, p.link || ''),
        h(
          'td',
          { class: `dir ${p.dir}`, title: p.dir === 'in' ? 'received' : 'sent' },
          p.dir === 'in' ? '←' : '→',
        ),
        h('td', { class: 'protocol' }, p.protocol),
        h('td', { class: 'src', title: p.src }, p.src),
        h('td', { class: 'dst', title: p.dst }, p.dst),
        h('td', { class: 'length' }, String(p.length)),
        h('td', { class: 'info' }, p.info),
      )
      if (i === nearest) nearestRow = row
      packetBody.append(row)
    }
    packetSummary.textContent = `${to - from} of ${n} nearest ${rel(t)}`
    if (nearestRow) nearestRow.scrollIntoView({ block: 'center' })
  }
  linkSelect.addEventListener('change', () => {
    const v = linkSelect.value
    shownPackets = v === '*' ? packets : packets.filter((p) => (p.link || '') === v)
    drawPackets(events[cursor] ? events[cursor].t : data.written)
  })

  // ---- state ---------------------------------------------------------------

  const states = [...(data.states || [])].sort((a, b) => a.t - b.t)
  /** @param {number} t */
  function drawState(t) {
    stateView.replaceChildren()
    if (!states.length) return stateView.append(h('p', { class: 'empty' }, 'No state was recorded.'))
    let at = -1
    for (let i = 0; i < states.length; i++) if (states[i].t <= t) at = i
    const snap = states[at >= 0 ? at : 0]
    stateView.append(
      h(
        'p',
        { id: 'snapshot', class: 'meta' },
        `recorded ${rel(snap.t)}: ${snap.reason}`,
        at >= 0 ? '' : ' (after the cursor: none was recorded before it)',
      ),
    )
    const host = snap.hosts.find((x) => x.name === hostSelect.value) || snap.hosts[0]
    if (!host) return stateView.append(h('p', { class: 'empty' }, 'No hosts in this snapshot.'))
    if (host.name !== hostSelect.value) hostSelect.value = host.name
    stateView.append(h('p', { class: 'meta' }, `${host.name} (${host.kind}) in netns ${host.netns}`))
    /** @type {[string, string[] | string][]} */
    const sections = [
      ['links', host.links],
      ['addresses', host.addresses],
      ['routes', host.routes],
      ['neighbours', host.neighbours],
      ['nftables', host.nftables],
    ]
    for (const [name, lines] of sections) {
      const text = Array.isArray(lines) ? lines.join('\n') : lines || ''
      stateView.append(
        h(
          'section',
          { class: 'state-section', 'data-section': name },
          h('h3', {}, name),
          text ? h('pre', {}, text) : h('p', { class: 'empty' }, 'none'),
        ),
      )
    }
  }
  hostSelect.addEventListener('change', () => drawState(events[cursor] ? events[cursor].t : data.written))

  // ---- the cursor ----------------------------------------------------------

  let cursor = -1

  /** @param {TraceEvent} e */
  function drawDetail(e) {
    detail.replaceChildren(
      h('h3', {}, e.title),
      h(
        'p',
        { class: 'meta' },
        `${e.kind} · ${rel(e.t)} (${clock(e.t)})`,
        e.node ? ` · node ${e.node}` : '',
        e.links && e.links.length ? ` · ${e.links.join(', ')}` : '',
        e.durationUs !== undefined ? ` · took ${duration(e.durationUs)}` : '',
        e.ok === undefined ? '' : e.ok ? ' · held' : ' · failed',
      ),
      e.linkState === undefined
        ? ''
        : h(
            'p',
            { class: 'meta' },
            Object.entries(e.linkState)
              .map(([id, s]) => `${id} → ${s}`)
              .join(', '),
          ),
      e.detail ? h('pre', {}, e.detail) : '',
    )
  }

  /**
   * Move the cursor to event i.
   * @param {number} i
   * @param {{ scroll?: boolean, hash?: boolean }} [how]
   */
  function select(i, how = {}) {
    if (!events[i]) return
    if (options[cursor]) options[cursor].setAttribute('aria-selected', 'false')
    cursor = i
    const li = options[i]
    li.setAttribute('aria-selected', 'true')
    list.setAttribute('aria-activedescendant', li.id)
    if (how.scroll !== false) li.scrollIntoView({ block: 'center' })
    const e = events[i]
    drawDetail(e)
    drawTopology(i)
    drawPackets(e.t)
    drawState(e.t)
    if (how.hash !== false) {
      try {
        history.replaceState(null, '', `#event=${i}`)
      } catch {
        // some file:// contexts refuse it; the page works without
      }
    }
  }

  list.addEventListener('click', (ev) => {
    const li = ev.target instanceof Element ? ev.target.closest('li[role=option]') : null
    if (li) select(Number(li.getAttribute('data-index')), { scroll: false })
  })

  /** The visible options' event indices, in timeline order. */
  const visible = () => order.filter((i) => !options[i].hidden)

  list.addEventListener('keydown', (ev) => {
    const vis = visible()
    if (!vis.length) return
    const at = vis.indexOf(cursor)
    const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[ev.key]
    let next
    if (step !== undefined) next = at < 0 ? vis[0] : vis[Math.max(0, Math.min(vis.length - 1, at + step))]
    else if (ev.key === 'Home') next = vis[0]
    else if (ev.key === 'End') next = vis[vis.length - 1]
    else return
    ev.preventDefault()
    select(next)
  })

  filters.addEventListener('change', () => {
    for (const box of filters.querySelectorAll('input[data-kind]')) {
      const k = box.getAttribute('data-kind')
      const on = /** @type {HTMLInputElement} */ (box).checked
      for (const li of options) if (li && li.getAttribute('data-kind') === k) li.hidden = !on
    }
  })

  /** The event `#event=N` names, if any. */
  function fromHash() {
    const m = /^#event=(\d+)$/.exec(location.hash)
    return m && events[Number(m[1])] ? Number(m[1]) : undefined
  }
  window.addEventListener('hashchange', () => {
    const i = fromHash()
    if (i !== undefined && i !== cursor) select(i, { hash: false })
  })

  const first = fromHash() ?? (failure ? data.failure : order[order.length - 1])
  if (first !== undefined) {
    select(first, { hash: false })
    list.focus({ preventScroll: true })
  } else {
    detail.append(h('p', { class: 'empty' }, 'No events were recorded.'))
    drawPackets(data.written)
    drawState(data.written)
  }
  document.body.setAttribute('data-ready', 'true')
})()
