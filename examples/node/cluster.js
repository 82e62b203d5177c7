'use strict'
// Shared by the examples: where the cluster is (BOOTSTRAP, or an embedded broker), topic creation, checks.
const { Broker, Admin } = require('../../node')

const WAIT_MS = 10000

/** BOOTSTRAP from the environment, or a fresh embedded broker on a free local port. */
async function startCluster() {
  if (process.env.BOOTSTRAP && process.env.BOOTSTRAP.trim()) {
    console.log(`using the cluster at ${process.env.BOOTSTRAP}`)
    return { bootstrap: process.env.BOOTSTRAP, close: async () => {} }
  }
  const broker = await Broker.start({ config: { 'group.initial.rebalance.delay.ms': 0 } })
  console.log(`started an embedded broker at ${broker.bootstrapServers}`)
  return { bootstrap: broker.bootstrapServers, close: () => broker.close() }
}

/** A topic name no earlier run used (examples may run against a shared cluster). */
function unique(prefix) {
  return `${prefix}-${Date.now()}-${process.pid}`
}

async function createTopic(bootstrap, name, numPartitions) {
  const admin = new Admin({ 'bootstrap.servers': bootstrap })
  await admin.createTopics([{ name, numPartitions }])
  await admin.close()
  return name
}

function check(cond, message) {
  if (!cond) {
    console.error(`FAILED: ${message}`)
    process.exit(1)
  }
}

/** Runs an example's main, failing the process on any error. */
function main(fn) {
  fn().catch((e) => {
    console.error('FAILED:', e)
    process.exit(1)
  })
}

module.exports = { startCluster, unique, createTopic, check, main, WAIT_MS }
