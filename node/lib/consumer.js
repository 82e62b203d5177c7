'use strict'
// The consumer. Every blocking call runs on the consumer's own worker thread in the addon, in call order.
// Records come from `poll` in batches (one crossing per batch); the async iterator and `run` hand them out
// one at a time and call `poll` again only when the batch is used up, so core's automatic commit (inside poll)
// never commits a record the application has not been given. Rebalance callbacks run on the JS thread while
// the poll that triggered them waits; they may be async and may await commit/position/committed.
const { EventEmitter } = require('node:events')
const native = require('./native')
const { toKafkaError, parse, local, sync, settle, warn } = require('./errors')
const { toProps } = require('./config')
const { unpackRecords } = require('./pack')

const ITERATOR_POLL_MS = 1000
const key = (topic, partition) => `${topic}\u0000${partition}`

function tp(p, what) {
  if (!p || typeof p.topic !== 'string' || !Number.isInteger(p.partition)) {
    throw local('INVALID_ARG', `${what}: expected { topic: string, partition: integer }`)
  }
  return { topic: p.topic, partition: p.partition }
}

function tpList(ps, what) {
  if (!Array.isArray(ps)) throw local('INVALID_ARG', `${what}: expected an array of { topic, partition }`)
  return ps.map((p) => tp(p, what))
}

function offsetList(ps, what) {
  return tpList(ps, what).map((p, i) => ({ ...p, offset: Number(ps[i].offset) }))
}

const plain = (list) => list.map(({ topic, partition, offset }) => ({ topic, partition, offset }))

class Consumer extends EventEmitter {
  /**
   * @param config Kafka consumer properties ('bootstrap.servers', 'group.id', 'auto.offset.reset', ...)
   * @param options.interceptors objects with onConsume(records) => records, onCommit(offsets), close()
   */
  constructor(config, { interceptors = [] } = {}) {
    super()
    this._interceptors = interceptors
    this._listener = null
    this._buffer = []
    this._bufferAt = 0
    this._commitCallbacks = new Map()
    this._nextCallback = 1
    this._inRebalance = 0
    this._closed = false
    this._stopping = false
    this._running = null
    this._closing = null
    const props = toProps(config, 'consumer')
    // Core reports every successful commit (sync, async, automatic) for onCommit; ask only when one is there.
    const forwardCommits = interceptors.some((ic) => typeof ic.onCommit === 'function')
    this._n = sync(() => new native.NativeConsumer(props, (ev) => this._onEvent(ev), forwardCommits))
  }

  /**
   * Subscribes to topics, or to every topic whose whole name matches a RegExp (Java regex semantics, as far as
   * Rust's regex crate allows; flags are ignored), replacing the previous subscription. `listener` callbacks
   * receive the partitions ({ topic, partition }[]) and this consumer; they may return a promise. onLost
   * defaults to onRevoke.
   */
  subscribe(topics, listener = {}) {
    this._checkOpen()
    if (this._inRebalance) throw local('STATE', 'subscribe cannot be called from inside a rebalance callback')
    const hasListener = !!(listener && (listener.onAssign || listener.onRevoke || listener.onLost))
    if (topics instanceof RegExp) {
      this._listener = hasListener ? listener : null
      this._clearBuffer()
      return sync(() => this._n.subscribePattern(topics.source, hasListener))
    }
    const list = Array.isArray(topics) ? topics : [topics]
    if (list.some((t) => typeof t !== 'string')) throw local('INVALID_ARG', 'subscribe: topics must be strings or one RegExp')
    this._listener = hasListener ? listener : null
    this._clearBuffer()
    sync(() => this._n.subscribe(list, hasListener))
  }

  async unsubscribe() {
    this._checkOpen()
    this._clearBuffer()
    await settle(() => this._n.unsubscribe())
  }

  /** Manual assignment, without a group: [{ topic, partition }]. */
  assign(partitions) {
    this._checkOpen()
    const list = tpList(partitions, 'assign')
    const keep = new Set(list.map((p) => key(p.topic, p.partition)))
    this._dropBuffered((r) => !keep.has(key(r.topic, r.partition)))
    sync(() => this._n.assign(list))
  }

  assignment() {
    return sync(() => this._n.assignment())
  }

  subscription() {
    return sync(() => this._n.subscription())
  }

  /** Waits up to timeoutMs for records; resolves to an array (empty when none came). */
  async poll(timeoutMs = 1000) {
    this._checkOpen()
    if (this._bufferAt < this._buffer.length) {
      const rest = this._buffer.slice(this._bufferAt)
      this._clearBuffer()
      return rest
    }
    let packed
    try {
      packed = await settle(() => this._n.poll(timeoutMs))
    } catch (e) {
      if (e.code === -112) return [] // woken up by stop/close
      throw e
    }
    return this._onConsume(unpackRecords(packed))
  }

  _onConsume(records) {
    let out = records
    for (const ic of this._interceptors) {
      if (typeof ic.onConsume !== 'function') continue
      try {
        const r = ic.onConsume(out)
        if (Array.isArray(r)) out = r
      } catch (e) {
        warn('streamlet: consumer interceptor onConsume threw; skipped', e)
      }
    }
    return out
  }

  _onCommit(offsets) {
    for (const ic of this._interceptors) {
      if (typeof ic.onCommit !== 'function') continue
      try {
        ic.onCommit(offsets)
      } catch (e) {
        warn('streamlet: consumer interceptor onCommit threw; skipped', e)
      }
    }
  }

  /** Yields records one by one, polling as needed, until the consumer is closed or stopped. */
  async *[Symbol.asyncIterator]() {
    while (!this._closed && !this._closing) {
      if (this._bufferAt >= this._buffer.length) {
        let records
        try {
          records = await this.poll(ITERATOR_POLL_MS)
        } catch (e) {
          if (this._closed || this._closing) return
          throw e
        }
        this._buffer = records
        this._bufferAt = 0
        continue
      }
      yield this._buffer[this._bufferAt++]
    }
  }

  /**
   * kafkajs-style loop: `eachMessage({ topic, partition, message })` or `eachBatch({ batch })`, awaited in
   * order. A handler that throws has its message delivered again (the partition is sought back to it) after
   * `retryBackoffMs`; the error is emitted as 'error' (or logged without a listener). Resolves once the loop
   * runs; `stop()` or `close()` ends it.
   */
  async run({ eachMessage, eachBatch, pollTimeoutMs = 1000, retryBackoffMs = 100 } = {}) {
    this._checkOpen()
    if (this._running) throw local('STATE', 'run: the consumer is already running')
    if (typeof eachMessage !== 'function' && typeof eachBatch !== 'function') {
      throw local('INVALID_ARG', 'run: eachMessage or eachBatch is required')
    }
    this._stopping = false
    this._running = this._loop({ eachMessage, eachBatch, pollTimeoutMs, retryBackoffMs }).finally(() => {
      this._running = null
    })
  }

  async _loop({ eachMessage, eachBatch, pollTimeoutMs, retryBackoffMs }) {
    while (!this._stopping && !this._closed) {
      let records
      try {
        records = await this.poll(pollTimeoutMs)
      } catch (e) {
        if (this._closed || this._closing || this._stopping) return
        this._reportError(e)
        await new Promise((r) => setTimeout(r, retryBackoffMs))
        continue
      }
      const batches = new Map()
      for (const r of records) {
        const k = key(r.topic, r.partition)
        if (!batches.has(k)) batches.set(k, [])
        batches.get(k).push(r)
      }
      let failed = false
      for (const messages of batches.values()) {
        const { topic, partition } = messages[0]
        const pausedNow = () => this.paused().some((p) => p.topic === topic && p.partition === partition)
        try {
          if (eachBatch) {
            await eachBatch({ batch: { topic, partition, messages }, consumer: this })
          } else {
            for (let i = 0; i < messages.length; i++) {
              if (this._stopping || this._closed || pausedNow()) {
                // Not handed to the handler: read again after resume / restart.
                if (!this._closed) this.seek({ topic, partition, offset: messages[i].offset })
                break
              }
              try {
                await eachMessage({ topic, partition, message: messages[i], consumer: this })
              } catch (e) {
                if (!this._closed) this.seek({ topic, partition, offset: messages[i].offset })
                throw e
              }
            }
          }
        } catch (e) {
          if (eachBatch && !this._closed) this.seek({ topic, partition, offset: messages[0].offset })
          this._reportError(e)
          failed = true
        }
      }
      if (failed) await new Promise((r) => setTimeout(r, retryBackoffMs))
    }
  }

  _reportError(e) {
    if (this.listenerCount('error') > 0) this.emit('error', e)
    else warn('streamlet: consumer handler failed; the message will be delivered again', e)
  }

  /** Ends `run` (the current message finishes first). */
  async stop() {
    this._stopping = true
    if (this._running) {
      sync(() => this._n.wakeup())
      await this._running
    }
  }

  /** Commits offsets ([{ topic, partition, offset }], offset = next to read) or, without, what was consumed. */
  async commit(offsets) {
    this._checkOpen()
    const list = offsets === undefined ? null : offsetList(offsets, 'commit')
    await settle(() => this._n.commit(list))
  }

  /**
   * Commits in the background. `callback(err, offsets)` runs later on the JS thread, when the outcome is
   * known (it is delivered from the consumer's next poll, or close).
   */
  commitAsync(offsets, callback) {
    this._checkOpen()
    if (typeof offsets === 'function') [offsets, callback] = [undefined, offsets]
    const list = offsets === undefined || offsets === null ? null : offsetList(offsets, 'commitAsync')
    let id = null
    if (callback) {
      id = this._nextCallback++
      this._commitCallbacks.set(id, callback)
    }
    try {
      sync(() => this._n.commitAsync(list, id))
    } catch (e) {
      if (id !== null) this._commitCallbacks.delete(id)
      throw e
    }
  }

  /** Committed offsets: [{ topic, partition, offset }] with offset null where the group has none. */
  async committed(partitions) {
    this._checkOpen()
    const found = await settle(() => this._n.committed(tpList(partitions, 'committed')))
    return found.map(({ topic, partition, offset }) => ({ topic, partition, offset: offset < 0 ? null : offset }))
  }

  /** The offset of the next record poll hands out for { topic, partition }. */
  async position(partition) {
    this._checkOpen()
    return settle(() => this._n.position(tp(partition, 'position')))
  }

  /** seek({ topic, partition, offset }): the next poll reads from offset. */
  seek({ topic, partition, offset }) {
    this._checkOpen()
    const p = tp({ topic, partition }, 'seek')
    this._dropBuffered((r) => r.topic === p.topic && r.partition === p.partition)
    sync(() => this._n.seek(p, Number(offset)))
  }

  seekToBeginning(partitions) {
    this._checkOpen()
    const list = tpList(partitions, 'seekToBeginning')
    this._dropMatching(list)
    sync(() => this._n.seekToBeginning(list))
  }

  seekToEnd(partitions) {
    this._checkOpen()
    const list = tpList(partitions, 'seekToEnd')
    this._dropMatching(list)
    sync(() => this._n.seekToEnd(list))
  }

  /** Stops handing out and fetching records of these partitions (buffered ones are read again on resume). */
  pause(partitions) {
    this._checkOpen()
    const list = tpList(partitions, 'pause')
    const wanted = new Set(list.map((p) => key(p.topic, p.partition)))
    const first = new Map()
    for (let i = this._bufferAt; i < this._buffer.length; i++) {
      const r = this._buffer[i]
      const k = key(r.topic, r.partition)
      if (wanted.has(k) && !first.has(k)) first.set(k, r)
    }
    sync(() => this._n.pause(list))
    for (const r of first.values()) sync(() => this._n.seek({ topic: r.topic, partition: r.partition }, r.offset))
    this._dropMatching(list)
  }

  resume(partitions) {
    this._checkOpen()
    sync(() => this._n.resume(tpList(partitions, 'resume')))
  }

  paused() {
    return sync(() => this._n.paused())
  }

  async beginningOffsets(partitions) {
    this._checkOpen()
    return plain(await settle(() => this._n.offsets(tpList(partitions, 'beginningOffsets'), 'beginning')))
  }

  async endOffsets(partitions) {
    this._checkOpen()
    return plain(await settle(() => this._n.offsets(tpList(partitions, 'endOffsets'), 'end')))
  }

  /** [{ topic, partition, timestamp }] -> [{ topic, partition, offset, timestamp }] (offset null: none). */
  async offsetsForTimes(query) {
    this._checkOpen()
    const q = tpList(query, 'offsetsForTimes').map((p, i) => ({ ...p, offset: Number(query[i].timestamp) }))
    const found = await settle(() => this._n.offsetsForTimes(q))
    return found.map(({ topic, partition, offset, timestamp }) => ({ topic, partition, offset: offset < 0 ? null : offset, timestamp: timestamp ?? null }))
  }

  async partitionsFor(topic) {
    this._checkOpen()
    return settle(() => this._n.partitionsFor(topic))
  }

  /** { groupId, generation, memberId, groupInstanceId } or null without a group.id. */
  groupMetadata() {
    return sync(() => this._n.groupMetadata())
  }

  /**
   * Commits (with auto-commit), runs onRevoke, leaves the group, then closes interceptors. A consumer that is
   * never closed does not keep the process alive once nothing awaits it; the broker then drops it from the
   * group after session.timeout.ms.
   */
  async close() {
    if (this._closed) return
    if (this._inRebalance) throw local('STATE', 'close cannot be called from inside a rebalance callback')
    if (this._closing) return this._closing
    this._stopping = true
    sync(() => this._n.wakeup())
    this._closing = this._close()
    return this._closing
  }

  async _close() {
    if (this._running) await this._running.catch(() => {})
    this._clearBuffer()
    try {
      // Rebalance callbacks run inside close (onRevoke) and may still use the consumer.
      await settle(() => this._n.close())
    } finally {
      this._closed = true
      for (const ic of this._interceptors) {
        if (typeof ic.close !== 'function') continue
        try {
          ic.close()
        } catch (e) {
          warn('streamlet: consumer interceptor close threw', e)
        }
      }
    }
  }

  _checkOpen() {
    if (this._closed) throw local('CLOSED', 'the consumer is closed')
  }

  _clearBuffer() {
    this._buffer = []
    this._bufferAt = 0
  }

  _dropBuffered(pred) {
    if (this._bufferAt >= this._buffer.length) return
    this._buffer = this._buffer.slice(this._bufferAt).filter((r) => !pred(r))
    this._bufferAt = 0
  }

  _dropMatching(list) {
    const s = new Set(list.map((p) => key(p.topic, p.partition)))
    this._dropBuffered((r) => s.has(key(r.topic, r.partition)))
  }

  _onEvent(ev) {
    try {
      if (ev.event === 'commit') return this._onCommitResult(ev)
      if (ev.event === 'committed') return this._onCommit(ev.partitions.map(({ topic, partition, offset }) => ({ topic, partition, offset })))
      const partitions = ev.partitions.map(({ topic, partition }) => ({ topic, partition }))
      const l = this._listener || {}
      const handler = ev.event === 'assign' ? l.onAssign : ev.event === 'revoke' ? l.onRevoke : l.onLost || l.onRevoke
      this._inRebalance++
      Promise.resolve()
        .then(() => (handler ? handler.call(l, partitions, this) : undefined))
        .catch((e) => warn(`streamlet: the ${ev.event} rebalance callback threw`, e))
        .finally(() => {
          this._inRebalance--
          this._n.rebalanceDone(ev.id)
        })
    } catch (e) {
      warn('streamlet: consumer event handling failed', e)
    }
  }

  _onCommitResult(ev) {
    const callback = this._commitCallbacks.get(ev.id)
    this._commitCallbacks.delete(ev.id)
    const err = ev.error ? parse(ev.error) || toKafkaError(new Error(ev.error)) : null
    const offsets = ev.partitions.map(({ topic, partition, offset }) => ({ topic, partition, offset }))
    if (callback) {
      try {
        callback(err, offsets)
      } catch (e) {
        warn('streamlet: a commit callback threw', e)
      }
    }
  }
}

module.exports = { Consumer }
