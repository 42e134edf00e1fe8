// Starts dynalite the way its own cli.js does, with two changes for tests and tools:
//  - tables become ACTIVE (and are deleted) at once instead of after 500 ms;
//  - a client that aborts a request while its body is being received no longer kills the
//    server: dynalite 4.0.0 rethrows that socket error (index.js, req.on('error', throw)).
// It is copied next to node_modules/dynalite by internal/dynalite and scripts/dynalite.sh.
'use strict'
const path = require('path')
const argv = require(path.join(__dirname, 'node_modules', 'minimist'))(process.argv.slice(2))
const dynalite = require(path.join(__dirname, 'node_modules', 'dynalite'))

process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.code === 'ECONNABORTED' || err.message === 'aborted')) {
    console.error('dynalite: a client aborted a request (' + (err.code || err.message) + '); ignored')
    return
  }
  console.error(err)
  process.exit(1)
})

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  .listen(argv.port || 4567, argv.host || undefined, () => {
    console.log('Dynalite listening at: http://%s:%s', argv.host || 'localhost', server.address().port)
  })
