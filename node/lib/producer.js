'use strict'
// The producer. `send`/`produce` run interceptors' onSend here (on the caller's turn of the event loop),
// queue the record and hand everything queued in the same tick to the addon in one packed call. Delivery
// reports come back in batches on the JS thread (`_onDelivery`), where interceptors' onAcknowledgement run
// just before each record's promise/callback/'delivery' event, as core does on its caller's thread.
const { EventEmitter } = require('node:events')
const native = require('./native')
const { KafkaError, toKafkaError, parse, local, sync, settle, warn } = require('./errors')
const { toProps } = require('./config')
const { normalize, packRecords } = require('./pack')

const DEFAULT_TIMEOUT_MS = 30000

class Producer extends EventEmitter {
  /**
   * @param config Kafka producer properties ('bootstrap.servers', 'acks', 'linger.ms', ...)
   * @param options.interceptors objects with onSend(record) => record, onAcknowledgement(metadata, error), close()
   * @param options.partitioner (topic, key, partitionCount) => partition, for records without a partition
   */
  constructor(config, { interceptors = [], partitioner } = {}) {
    super()
    this._interceptors = interceptors
    this._pending = new Map()
    this._nextId = 0
    this._queue = []
    this._queueScheduled = false
    this._active = false
    this._closed = false
    this._waiters = []
    let choose
    if (partitioner !== undefined) {
      if (typeof partitioner !== 'function') throw local('INVALID_ARG', 'partitioner must be a function')
      choose = (topic, key, count) => {
        try {
          const p = partitioner(topic, key, count)
          return Number.isInteger(p) ? p : -1
        } catch (e) {
          warn('streamlet: the partitioner threw; the record fails', e)
          return -1
        }
      }
    }
    const props = toProps(config, 'producer')
    this._n = sync(() => new native.NativeProducer(props, (ok, ids, errors) => this._onDelivery(ok, ids, errors), choose))
  }

  /** Sends one record; resolves to { topic, partition, offset, timestamp } once the broker acknowledged it. */
  send(record) {
    return new Promise((resolve, reject) => this._enqueue(record, (err, md) => (err ? reject(err) : resolve(md)), false))
  }

  /**
   * Sends many records (an array, or kafkajs' { topicMessages: [{ topic, messages }] }); resolves to their
   * metadata in order, or rejects with the first failure once all are done.
   */
  sendBatch(batch) {
    const records = Array.isArray(batch)
      ? batch
      : (batch && batch.topicMessages ? batch.topicMessages : []).flatMap(({ topic, messages }) => messages.map((m) => ({ ...m, topic })))
    if (records.length === 0) return Promise.resolve([])
    return new Promise((resolve, reject) => {
      const results = new Array(records.length)
      let left = records.length
      let failure = null
      records.forEach((r, i) =>
        this._enqueue(
          r,
          (err, md) => {
            if (err && !failure) failure = err
            results[i] = md
            if (--left === 0) failure ? reject(failure) : resolve(results)
          },
          false,
        ),
      )
    })
  }

  /**
   * Fire-and-forget: never throws for delivery problems. `callback(err, metadata)` runs on delivery, and the
   * producer emits 'delivery' (err, metadata, record) for every record sent this way.
   */
  produce(record, callback) {
    this._enqueue(record, callback || null, true)
  }

  _enqueue(record, callback, emit) {
    let r
    try {
      if (this._closed) throw local('CLOSED', 'the producer is closed')
      r = normalize(this._onSend(record))
    } catch (e) {
      const err = toKafkaError(e)
      process.nextTick(() => this._report({ record, callback, emit }, err, null))
      return
    }
    const id = this._nextId++
    this._pending.set(id, { record: r, callback, emit })
    this._queue.push(r)
    if (!this._queueScheduled) {
      this._queueScheduled = true
      this._queueFirst = id
      queueMicrotask(() => this._drain())
    }
    if (!this._active) {
      this._active = true
      this._n.setActive(true)
    }
  }

  _onSend(record) {
    let r = record
    for (const ic of this._interceptors) {
      if (typeof ic.onSend !== 'function') continue
      try {
        const out = ic.onSend(r)
        if (out !== undefined) r = out
      } catch (e) {
        warn('streamlet: producer interceptor onSend threw; skipped', e)
      }
    }
    return r
  }

  /** Hands what was queued in this tick to the addon. */
  _drain() {
    if (!this._queueScheduled) return
    const records = this._queue
    const first = this._queueFirst
    this._queue = []
    this._queueScheduled = false
    const { data, meta, strings } = packRecords(records)
    try {
      this._n.send(first, data, meta, strings)
    } catch (e) {
      const err = toKafkaError(e)
      for (let i = 0; i < records.length; i++) this._finish(first + i, err, null)
    }
  }

  _onDelivery(ok, failedIds, failedErrors) {
    try {
      for (let i = 0; i < ok.length; i += 4) {
        const entry = this._pending.get(ok[i])
        if (!entry) continue
        this._finish(ok[i], null, { topic: entry.record.topic, partition: ok[i + 1], offset: ok[i + 2], timestamp: ok[i + 3] })
      }
      for (let i = 0; i < failedIds.length; i++) {
        this._finish(failedIds[i], parse(failedErrors[i]) || new KafkaError(failedErrors[i]), null)
      }
    } catch (e) {
      warn('streamlet: delivery handling failed', e)
    }
  }

  _finish(id, err, md) {
    const entry = this._pending.get(id)
    if (!entry) return
    this._pending.delete(id)
    this._report(entry, err, md)
    if (this._pending.size === 0 && this._active) {
      this._active = false
      this._n.setActive(false)
    }
    this._wakeWaiters()
  }

  _report(entry, err, md) {
    for (const ic of this._interceptors) {
      if (typeof ic.onAcknowledgement !== 'function') continue
      try {
        ic.onAcknowledgement(md, err)
      } catch (e) {
        warn('streamlet: producer interceptor onAcknowledgement threw; skipped', e)
      }
    }
    if (entry.callback) {
      try {
        entry.callback(err, md)
      } catch (e) {
        warn('streamlet: a delivery callback threw', e)
      }
    }
    if (entry.emit && this.listenerCount('delivery') > 0) this.emit('delivery', err, md, entry.record)
  }

  /** Resolves once every record with an id below `upto` is done. */
  _doneBelow(upto) {
    for (const id of this._pending.keys()) return id >= upto
    return true
  }

  _wakeWaiters() {
    if (this._waiters.length === 0) return
    this._waiters = this._waiters.filter((w) => {
      if (!this._doneBelow(w.upto)) return true
      w.resolve()
      return false
    })
  }

  _waitDone(upto) {
    if (this._doneBelow(upto)) return Promise.resolve()
    return new Promise((resolve) => this._waiters.push({ upto, resolve }))
  }

  /** Sends everything now and waits (up to timeoutMs) until every record sent so far is done. */
  async flush(timeoutMs = DEFAULT_TIMEOUT_MS) {
    if (this._closed) return
    const upto = this._nextId
    this._drain()
    await settle(() => this._n.flush(timeoutMs))
    await this._waitDone(upto)
  }

  /** Delivers what is queued (waiting up to timeoutMs; the rest fails with _CLOSED), then closes interceptors. */
  async close(timeoutMs = DEFAULT_TIMEOUT_MS) {
    if (this._closed) return
    this._drain()
    this._closed = true
    let failure = null
    try {
      await settle(() => this._n.close(timeoutMs))
    } catch (e) {
      failure = e
    }
    // Reports the addon sent just before close resolved may still be on their way to this thread.
    const upto = this._nextId
    await Promise.race([this._waitDone(upto), new Promise((r) => setTimeout(r, 2000).unref())])
    for (const id of [...this._pending.keys()]) this._finish(id, local('CLOSED', 'the producer was closed before the record was delivered'), null)
    for (const ic of this._interceptors) {
      if (typeof ic.close !== 'function') continue
      try {
        ic.close()
      } catch (e) {
        warn('streamlet: producer interceptor close threw', e)
      }
    }
    if (failure) throw failure
  }
}

module.exports = { Producer }
