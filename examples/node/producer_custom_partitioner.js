'use strict'
// A partitioner function: records whose key starts with "vip-" go to partition 0, the others spread over the rest.
const { Producer } = require('../../node')
const { startCluster, unique, createTopic, check, main } = require('./cluster')

function vipPartitioner(topic, key, partitionCount) {
  const k = key ? key.toString() : ''
  if (k.startsWith('vip-')) return 0
  let h = 0
  for (const c of k) h = (h * 31 + c.charCodeAt(0)) >>> 0
  return 1 + (h % (partitionCount - 1))
}

main(async () => {
  const cluster = await startCluster()
  const topic = await createTopic(cluster.bootstrap, unique('custom-partitioner'), 4)
  const producer = new Producer({ 'bootstrap.servers': cluster.bootstrap }, { partitioner: vipPartitioner })
  const keys = ['vip-alice', 'bob', 'vip-carol', 'dave', 'erin']
  const mds = await producer.sendBatch(keys.map((key) => ({ topic, key, value: `hello ${key}` })))
  mds.forEach((md, i) => console.log(`${keys[i]} -> partition ${md.partition}`))
  mds.forEach((md, i) => check((md.partition === 0) === keys[i].startsWith('vip-'), `${keys[i]} is partitioned by the custom partitioner`))
  await producer.close()
  await cluster.close()
})
