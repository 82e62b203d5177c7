'use strict'
// The admin client. Calls that act on several resources reject with the first resource's KafkaError (its
// `results` property lists every resource's outcome) and otherwise resolve to those results.
const native = require('./native')
const { parse, local, sync, settle } = require('./errors')
const { toProps } = require('./config')

function checked(results, keyOf) {
  const out = results.map((r) => ({ ...r, error: r.error ? parse(r.error) : null }))
  const failed = out.find((r) => r.error)
  if (failed) {
    const e = failed.error
    e.message = `${keyOf(failed)}: ${e.message}`
    e.results = out
    throw e
  }
  return out
}

const byName = (r) => r.name
const byPartition = (r) => `${r.topic}-${r.partition}`

class Admin {
  constructor(config) {
    const props = toProps(config, 'admin')
    this._n = sync(() => new native.NativeAdmin(props))
  }

  /** [{ name (or topic), numPartitions?, replicationFactor?, configs? }]; -1 / absent: the broker's defaults. */
  async createTopics(topics, { validateOnly = false } = {}) {
    if (!Array.isArray(topics)) throw local('INVALID_ARG', 'createTopics: expected an array of topics')
    const req = topics.map((t) => ({
      name: t.name ?? t.topic,
      numPartitions: t.numPartitions,
      replicationFactor: t.replicationFactor,
      configs: t.configs ? Object.fromEntries(Object.entries(t.configs).map(([k, v]) => [k, String(v)])) : undefined,
    }))
    return checked(await settle(() => this._n.createTopics(req, validateOnly)), byName)
  }

  async deleteTopics(names) {
    return checked(await settle(() => this._n.deleteTopics(names)), byName)
  }

  async listTopics({ includeInternal = false } = {}) {
    return settle(() => this._n.listTopics(includeInternal))
  }

  async describeTopics(names) {
    return settle(() => this._n.describeTopics(names))
  }

  /** [{ topic, count }]: grows each topic to `count` partitions in total. */
  async createPartitions(topics) {
    const res = await settle(() => this._n.createPartitions(topics.map((t) => t.topic), topics.map((t) => t.count)))
    return checked(res, byName)
  }

  /** A topic's effective configuration: [{ name, value, isDefault }]. */
  async describeConfigs(topic) {
    return settle(() => this._n.describeConfigs(topic))
  }

  /**
   * Alters a topic's configuration key by key: `{ key: value }` sets keys, or a list of
   * { name, value?, op?: 'set' | 'delete' | 'append' | 'subtract' } (delete: back to the default).
   */
  async alterConfigs(topic, ops, { validateOnly = false } = {}) {
    const list = Array.isArray(ops)
      ? ops.map(({ name, value, op }) => ({ name, value: value === undefined || value === null ? undefined : String(value), op }))
      : Object.entries(ops || {}).map(([name, value]) => ({ name, value: String(value), op: 'set' }))
    await settle(() => this._n.alterConfigs(topic, list, validateOnly))
  }

  async describeBrokerConfigs(nodeId) {
    return settle(() => this._n.describeBrokerConfigs(nodeId))
  }

  async listGroups() {
    return settle(() => this._n.listGroups())
  }

  async describeGroups(groupIds) {
    return settle(() => this._n.describeGroups(groupIds))
  }

  async deleteGroups(groupIds) {
    return checked(await settle(() => this._n.deleteGroups(groupIds)), byName)
  }

  /** A group's committed offsets: [{ topic, partition, offset }]. */
  async listGroupOffsets(groupId) {
    return settle(() => this._n.listGroupOffsets(groupId))
  }

  /** Sets a group's committed offsets ([{ topic, partition, offset }]); refused while the group has members. */
  async alterGroupOffsets(groupId, offsets) {
    return checked(await settle(() => this._n.alterGroupOffsets(groupId, offsets)), byPartition).map(({ error, ...r }) => r)
  }

  /** [{ topic, partition, committed (-1: none), logEnd, lag }]. */
  async groupLag(groupId) {
    return settle(() => this._n.groupLag(groupId))
  }

  /**
   * [{ topic, partition, spec }] with spec 'earliest' | 'latest' | 'maxTimestamp' | a timestamp in ms;
   * resolves to [{ topic, partition, offset, timestamp }] (offset -1: no record at or after that time).
   */
  async listOffsets(queries) {
    const req = queries.map(({ topic, partition, spec }) =>
      typeof spec === 'number' ? { topic, partition, timestamp: spec } : { topic, partition, spec: spec ?? 'latest' },
    )
    return checked(await settle(() => this._n.listOffsets(req)), byPartition).map(({ error, ...r }) => r)
  }

  /** [{ topic, partition, offset }]: deletes records before offset; resolves to the new low watermarks. */
  async deleteRecords(partitions) {
    return checked(await settle(() => this._n.deleteRecords(partitions)), byPartition).map(({ error, ...r }) => r)
  }

  /** { clusterId, controller, brokers: [{ nodeId, address }] }. */
  async describeCluster() {
    return settle(() => this._n.describeCluster())
  }

  async close() {
    await settle(() => this._n.close())
  }
}

module.exports = { Admin }
