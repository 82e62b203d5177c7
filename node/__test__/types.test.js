'use strict'
// index.d.ts compiles, strictly, against code that uses every class the way the README shows.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

test('index.d.ts type-checks a typical application (tsc --strict)', () => {
  const tsc = require.resolve('typescript/bin/tsc')
  const file = path.join(__dirname, 'types', 'usage.ts')
  const r = spawnSync(
    process.execPath,
    [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', file],
    { cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 120000 },
  )
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`)
})
