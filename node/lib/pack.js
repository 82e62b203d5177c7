'use strict'
// Records cross into and out of the addon packed (see node/src/pack.rs for the layouts): one Buffer of bytes,
// one Float64Array of numbers per record, one array of strings (topics, header keys). This keeps the number of
// JS/Rust crossings per batch constant instead of per record.
const { local } = require('./errors')

const EMPTY = Buffer.alloc(0)

function toBytes(v, what) {
  if (v === undefined || v === null) return null
  if (Buffer.isBuffer(v)) return v
  if (typeof v === 'string') return Buffer.from(v)
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  throw local('INVALID_ARG', `${what} must be a Buffer, a Uint8Array, a string, null or undefined`)
}

/** Headers as kafkajs writes them ({ key: value | value[] }) or as [key, value] pairs. */
function headerPairs(headers) {
  if (!headers) return []
  const out = []
  const entries = Array.isArray(headers) ? headers : Object.entries(headers)
  for (const [k, v] of entries) {
    if (Array.isArray(v) && !Array.isArray(headers)) for (const x of v) out.push([k, toBytes(x, `header ${k}`)])
    else out.push([String(k), toBytes(v, `header ${k}`)])
  }
  return out
}

function timestampOf(t) {
  if (t === undefined || t === null) return NaN
  const n = t instanceof Date ? t.getTime() : Number(t)
  if (!Number.isFinite(n) || n < 0) throw local('INVALID_ARG', `invalid timestamp ${t}`)
  return n
}

function partitionOf(p) {
  if (p === undefined || p === null) return -1
  if (!Number.isInteger(p) || p < 0) throw local('INVALID_ARG', `invalid partition ${p}`)
  return p
}

/** Checks and normalises one record; throws KafkaError(_INVALID_ARG). */
function normalize(r) {
  if (r === null || typeof r !== 'object') throw local('INVALID_ARG', 'a record must be an object')
  if (typeof r.topic !== 'string' || r.topic.length === 0) throw local('INVALID_ARG', 'a record needs a topic (non-empty string)')
  return {
    topic: r.topic,
    partition: partitionOf(r.partition),
    timestamp: timestampOf(r.timestamp),
    key: toBytes(r.key, 'key'),
    value: toBytes(r.value, 'value'),
    headers: headerPairs(r.headers),
  }
}

/** Packs normalized records for NativeProducer.send. */
function packRecords(records) {
  const strings = []
  const index = new Map()
  const intern = (s) => {
    let i = index.get(s)
    if (i === undefined) {
      i = strings.length
      strings.push(s)
      index.set(s, i)
    }
    return i
  }
  let size = 0
  let fields = 0
  for (const r of records) {
    size += (r.key ? r.key.length : 0) + (r.value ? r.value.length : 0)
    fields += 6 + 2 * r.headers.length
    for (const h of r.headers) size += h[1] ? h[1].length : 0
  }
  const data = size === 0 ? EMPTY : Buffer.allocUnsafe(size)
  const meta = new Float64Array(fields)
  let pos = 0
  let at = 0
  const put = (b) => {
    if (b === null) return -1
    b.copy(data, pos)
    pos += b.length
    return b.length
  }
  for (const r of records) {
    meta[at++] = intern(r.topic)
    meta[at++] = r.partition
    meta[at++] = r.timestamp
    meta[at++] = put(r.key)
    meta[at++] = put(r.value)
    meta[at++] = r.headers.length
    for (const [k, v] of r.headers) {
      meta[at++] = intern(k)
      meta[at++] = put(v)
    }
  }
  return { data, meta, strings }
}

/** Unpacks a poll's records into message objects; keys, values and header values are views of one Buffer. */
function unpackRecords({ data, meta, strings }) {
  const out = []
  let pos = 0
  let at = 0
  const take = (len) => {
    if (len < 0) return null
    const b = data.subarray(pos, pos + len)
    pos += len
    return b
  }
  while (at < meta.length) {
    const topic = strings[meta[at]]
    const partition = meta[at + 1]
    const offset = meta[at + 2]
    const timestamp = meta[at + 3]
    const timestampType = meta[at + 4] === 1 ? 'LogAppendTime' : 'CreateTime'
    const key = take(meta[at + 5])
    const value = take(meta[at + 6])
    const nh = meta[at + 7]
    at += 8
    const headers = {}
    for (let i = 0; i < nh; i++) {
      const k = strings[meta[at]]
      const v = take(meta[at + 1])
      at += 2
      if (k in headers) headers[k] = [].concat(headers[k], [v])
      else headers[k] = v
    }
    out.push({ topic, partition, offset, timestamp, timestampType, key, value, headers })
  }
  return out
}

module.exports = { normalize, packRecords, unpackRecords, toBytes }
