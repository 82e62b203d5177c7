'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const { Admin, Producer, Consumer, KafkaError } = require('..')
const { startBroker, uniqueName, pollN } = require('./helpers')

let broker
let admin
test.before(async () => {
  broker = await startBroker()
  admin = new Admin({ 'bootstrap.servers': broker.bootstrapServers })
})
test.after(async () => {
  await admin.close()
  await broker.close()
})

test('topics: create, list, describe, configs, grow, delete', async () => {
  const name = uniqueName('adm')
  const created = await admin.createTopics([{ name, numPartitions: 2, configs: { 'retention.ms': 60000 } }])
  assert.deepEqual(created, [{ name, error: null }])
  await assert.rejects(admin.createTopics([{ name, numPartitions: 1 }]), (e) => {
    assert.ok(e instanceof KafkaError)
    assert.equal(e.name, 'TOPIC_ALREADY_EXISTS')
    assert.equal(e.code, 36)
    assert.equal(e.results.length, 1)
    return true
  })
  assert.deepEqual(await admin.createTopics([{ topic: uniqueName('v'), numPartitions: 1 }], { validateOnly: true }).then((r) => r.length), 1)
  assert.ok((await admin.listTopics()).includes(name))
  assert.ok((await admin.listTopics({ includeInternal: true })).length >= 1)
  const [d] = await admin.describeTopics([name])
  assert.equal(d.name, name)
  assert.equal(d.partitions.length, 2)
  assert.equal(d.internal, false)
  assert.match(d.topicId, /^[0-9a-f-]{36}$/)
  const configs = await admin.describeConfigs(name)
  const retention = configs.find((c) => c.name === 'retention.ms')
  assert.deepEqual(retention, { name: 'retention.ms', value: '60000', isDefault: false })
  await admin.alterConfigs(name, { 'retention.ms': 120000 })
  assert.equal((await admin.describeConfigs(name)).find((c) => c.name === 'retention.ms').value, '120000')
  await admin.alterConfigs(name, [{ name: 'retention.ms', op: 'delete' }])
  assert.equal((await admin.describeConfigs(name)).find((c) => c.name === 'retention.ms').isDefault, true)
  await assert.rejects(admin.alterConfigs(name, [{ name: 'retention.ms', op: 'frobnicate' }]), (e) => e.name === '_INVALID_ARG')
  await assert.rejects(admin.alterConfigs(name, { 'retention.ms': 'soon' }), (e) => e instanceof KafkaError && e.code > 0)
  const brokerConfigs = await admin.describeBrokerConfigs((await admin.describeCluster()).controller)
  assert.ok(brokerConfigs.length > 0)
  await admin.createPartitions([{ topic: name, count: 3 }])
  assert.equal((await admin.describeTopics([name]))[0].partitions.length, 3)
  await assert.rejects(admin.createPartitions([{ topic: name, count: 1 }]), (e) => e.name === 'INVALID_PARTITIONS')
  await admin.deleteTopics([name])
  assert.ok(!(await admin.listTopics()).includes(name))
  await assert.rejects(admin.describeTopics([name]), (e) => e.name === 'UNKNOWN_TOPIC_OR_PARTITION')
})

test('offsets and records: listOffsets, deleteRecords', async () => {
  const topic = uniqueName('offs')
  const p = new Producer({ 'bootstrap.servers': broker.bootstrapServers })
  await p.sendBatch(Array.from({ length: 5 }, (_, i) => ({ topic, value: `v${i}`, timestamp: 5000 + i })))
  await p.close()
  const listed = await admin.listOffsets([
    { topic, partition: 0, spec: 'earliest' },
    { topic, partition: 0, spec: 'latest' },
    { topic, partition: 0, spec: 5003 },
  ])
  assert.deepEqual(listed.map((l) => l.offset), [0, 5, 3])
  const deleted = await admin.deleteRecords([{ topic, partition: 0, offset: 2 }])
  assert.deepEqual(deleted, [{ topic, partition: 0, lowWatermark: 2 }])
  assert.equal((await admin.listOffsets([{ topic, partition: 0, spec: 'earliest' }]))[0].offset, 2)
  await assert.rejects(admin.listOffsets([{ topic, partition: 0, spec: 'sometime' }]), (e) => e.name === '_INVALID_ARG')
})

test('groups: list, describe, offsets, lag, delete', async () => {
  const topic = uniqueName('grp')
  const group = uniqueName('g')
  const p = new Producer({ 'bootstrap.servers': broker.bootstrapServers })
  await p.sendBatch([{ topic, value: 'a' }, { topic, value: 'b' }, { topic, value: 'c' }])
  await p.close()
  const c = new Consumer({ 'bootstrap.servers': broker.bootstrapServers, 'group.id': group, 'auto.offset.reset': 'earliest', 'enable.auto.commit': false })
  c.subscribe([topic])
  await pollN(c, 3)
  await c.commit([{ topic, partition: 0, offset: 1 }])
  const listed = await admin.listGroups()
  assert.ok(listed.some((g) => g.groupId === group && g.protocolType === 'consumer'))
  const [desc] = await admin.describeGroups([group])
  assert.equal(desc.state, 'Stable')
  assert.equal(desc.members.length, 1)
  assert.deepEqual(desc.members[0].assignment, [{ topic, partition: 0 }])
  assert.deepEqual(await admin.listGroupOffsets(group), [{ topic, partition: 0, offset: 1 }])
  assert.deepEqual(await admin.groupLag(group), [{ topic, partition: 0, committed: 1, logEnd: 3, lag: 2 }])
  await assert.rejects(admin.deleteGroups([group]), (e) => e.name === 'NON_EMPTY_GROUP')
  await c.close()
  assert.deepEqual(await admin.deleteGroups([group]), [{ name: group, error: null }])
})

test('cluster, and errors after close', async () => {
  const d = await admin.describeCluster()
  assert.ok(d.clusterId.length > 0)
  assert.deepEqual(d.brokers.map((b) => b.address), [broker.bootstrapServers])
  const other = new Admin({ 'bootstrap.servers': broker.bootstrapServers })
  await other.close()
  await assert.rejects(other.listTopics(), (e) => e.name === '_CLOSED')
  assert.throws(() => new Admin({ 'bootstrap.servers': broker.bootstrapServers, 'request.timeout.ms': 'soon' }), (e) => e.name === '_INVALID_CONFIG')
})
