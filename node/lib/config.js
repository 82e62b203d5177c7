'use strict'
// Configs are objects of Kafka property names (`{ 'bootstrap.servers': '127.0.0.1:9092', 'linger.ms': 5 }`);
// values may be strings, numbers, booleans or arrays (joined with commas, as Kafka's list syntax).
const { local } = require('./errors')

function toProps(config, what) {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw local('INVALID_ARG', `${what} config must be an object of Kafka property names`)
  }
  const out = {}
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined || v === null) continue
    out[k] = Array.isArray(v) ? v.join(',') : String(v)
  }
  return out
}

module.exports = { toProps }
