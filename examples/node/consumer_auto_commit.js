'use strict'
// A consumer group member with automatic commits, reading with `for await`. A second member of the same group
// started afterwards sees nothing old: the first one's position was committed when it closed.
const { Consumer } = require('../../node')
const { startCluster, unique, check, main } = require('./cluster')
const { fill } = require('./fill')

main(async () => {
  const cluster = await startCluster()
  const topic = unique('auto-commit')
  const group = unique('auto-commit-group')
  await fill(cluster.bootstrap, topic, 20)
  const config = {
    'bootstrap.servers': cluster.bootstrap,
    'group.id': group,
    'enable.auto.commit': true,
    'auto.commit.interval.ms': 1000,
    'auto.offset.reset': 'earliest',
  }
  const consumer = new Consumer(config)
  consumer.subscribe([topic])
  let n = 0
  for await (const m of consumer) {
    console.log(`${m.topic}-${m.partition}@${m.offset}: ${m.key} = ${m.value}`)
    if (++n === 20) break
  }
  await consumer.close()
  const again = new Consumer(config)
  again.subscribe([topic])
  const leftover = await again.poll(1500)
  console.log(`a new member of ${group} finds ${leftover.length} unread records`)
  check(leftover.length === 0, 'the group committed everything read')
  await again.close()
  await cluster.close()
})
