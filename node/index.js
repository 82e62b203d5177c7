'use strict'
// Streamlet for Node.js: an embedded Kafka-protocol broker and Kafka clients backed by Streamlet's Rust core.
const { Broker } = require('./lib/broker')
const { Producer } = require('./lib/producer')
const { Consumer } = require('./lib/consumer')
const { Admin } = require('./lib/admin')
const { KafkaError } = require('./lib/errors')

module.exports = { Broker, Producer, Consumer, Admin, KafkaError }
// `import streamlet from 'streamlet'` through TypeScript's CommonJS interop.
module.exports.default = module.exports
