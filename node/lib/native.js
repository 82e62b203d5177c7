'use strict'
// Loads the addon that `napi build --platform` put beside package.json (streamlet.<platform>-<arch>[-abi].node).
// STREAMLET_NODE_ADDON names another file (for example a release build kept elsewhere).
const fs = require('node:fs')
const path = require('node:path')

function load() {
  if (process.env.STREAMLET_NODE_ADDON) return require(path.resolve(process.env.STREAMLET_NODE_ADDON))
  const dir = path.join(__dirname, '..')
  const prefix = `streamlet.${process.platform}-${process.arch}`
  const found = fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.node'))
  if (found.length === 0) {
    throw new Error(`streamlet: no native addon ${prefix}*.node in ${dir}; run \`npm install\` (or \`npm run build\`) in that directory`)
  }
  return require(path.join(dir, found[0]))
}

module.exports = load()
