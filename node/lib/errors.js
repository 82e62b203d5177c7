'use strict'
// KafkaError: every failure the package reports. `code` and `name` are Kafka's (UNKNOWN_TOPIC_OR_PARTITION = 3)
// or local ones below -100 shared with the C API (_TIMED_OUT = -103, _CLOSED = -107, ...). The addon sends
// errors as `KafkaError:<code>:<name>:<retriable>:<fatal>:<message>`.

class KafkaError extends Error {
  constructor(message, { code = -1, name = 'UNKNOWN_SERVER_ERROR', retriable = false, fatal = false } = {}) {
    super(message)
    Object.defineProperty(this, 'name', { value: name, enumerable: true, writable: true, configurable: true })
    this.code = code
    this.retriable = retriable
    this.fatal = fatal
  }
}

const LOCAL = {
  INVALID_ARG: { code: -100, name: '_INVALID_ARG' },
  CLOSED: { code: -107, name: '_CLOSED' },
  STATE: { code: -108, name: '_STATE' },
  WAKEUP: { code: -112, name: '_WAKEUP' },
}

const PREFIX = 'KafkaError:'

function parse(text) {
  if (typeof text !== 'string' || !text.startsWith(PREFIX)) return null
  const parts = text.slice(PREFIX.length).split(':')
  if (parts.length < 5) return null
  const [code, name, retriable, fatal] = parts
  return new KafkaError(parts.slice(4).join(':'), { code: Number(code), name, retriable: retriable === '1', fatal: fatal === '1' })
}

/** Any error out of the addon as a KafkaError (argument conversion errors become _INVALID_ARG). */
function toKafkaError(e) {
  if (e instanceof KafkaError) return e
  const parsed = parse(e && e.message)
  if (parsed) return parsed
  if (e && (e.code === 'InvalidArg' || e instanceof TypeError)) return new KafkaError(e.message, LOCAL.INVALID_ARG)
  return e
}

function local(kind, message) {
  return new KafkaError(message, LOCAL[kind])
}

/** Runs a synchronous addon call, rethrowing its error as a KafkaError. */
function sync(fn) {
  try {
    return fn()
  } catch (e) {
    throw toKafkaError(e)
  }
}

/** Awaits an addon promise (or a call that returns one), rejecting with a KafkaError. */
async function settle(fn) {
  try {
    return await fn()
  } catch (e) {
    throw toKafkaError(e)
  }
}

function warn(what, e) {
  process.emitWarning(`${what}: ${e && e.stack ? e.stack : e}`, { code: 'STREAMLET_CALLBACK' })
}

module.exports = { KafkaError, toKafkaError, parse, local, sync, settle, warn }
