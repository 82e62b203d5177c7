'use strict'
const { Broker, Admin } = require('..')

/** A broker for one test file; topics get unique names. */
async function startBroker(config = {}) {
  return Broker.start({ config: { 'group.initial.rebalance.delay.ms': 0, 'num.partitions': 1, ...config } })
}

let counter = 0
function uniqueName(prefix) {
  counter += 1
  return `${prefix}-${process.pid}-${counter}`
}

async function createTopic(bootstrap, name, numPartitions = 1) {
  const admin = new Admin({ 'bootstrap.servers': bootstrap })
  try {
    await admin.createTopics([{ name, numPartitions }])
  } finally {
    await admin.close()
  }
  return name
}

/** Polls `cond` until it is truthy; fails with `what` after timeoutMs. */
async function waitFor(cond, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await cond()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Polls a consumer until `n` records arrived (or fails after timeoutMs). */
async function pollN(consumer, n, timeoutMs = 15000) {
  const out = []
  const deadline = Date.now() + timeoutMs
  while (out.length < n) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms with ${out.length} of ${n} records`)
    out.push(...(await consumer.poll(200)))
  }
  return out
}

module.exports = { startBroker, uniqueName, createTopic, waitFor, pollN }
