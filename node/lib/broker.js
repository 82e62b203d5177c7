'use strict'
const native = require('./native')
const { settle, local } = require('./errors')
const { toProps } = require('./config')

/** An embedded Streamlet broker in this process. */
class Broker {
  constructor(handle) {
    if (!(handle instanceof native.NativeBroker)) throw local('INVALID_ARG', 'use `await Broker.start(options)`')
    this._n = handle
    this._closed = false
  }

  /** Starts a broker; without `dataDir` its data lives in a temp dir removed by `close`. */
  static async start({ dataDir, listen = '127.0.0.1:0', config = {} } = {}) {
    const props = toProps(config, 'broker')
    return new Broker(await settle(() => native.NativeBroker.start(dataDir ?? null, listen, props)))
  }

  get bootstrapServers() {
    return this._n.bootstrapServers
  }

  async close() {
    if (this._closed) return
    this._closed = true
    await settle(() => this._n.close())
  }
}

module.exports = { Broker }
