// server.mjs - PGlite (PostgreSQL in WASM) with the pgvector extension served
// over a unix socket or a loopback TCP port, for the pgvector tests. Started
// and stopped by scripts/pglite-test-server.sh; not meant to be run by hand.
//
//   node server.mjs --path /tmp/x/.s.PGSQL.5432   (unix socket)
//   node server.mjs --port 0                       (loopback, port chosen by the OS)
//
// Prints "READY <path-or-port>" on stdout once clients may connect. PGlite
// serves ONE connection at a time; its session state (prepared statements,
// settings) survives between connections, so clients run DISCARD ALL first.
import { PGlite } from '@electric-sql/pglite'
import { vector } from '@electric-sql/pglite-pgvector'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const args = process.argv.slice(2)
const opt = (name) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const path = opt('--path')
const port = path ? undefined : Number(opt('--port') ?? 0)

const db = await PGlite.create({ extensions: { vector } })
const server = new PGLiteSocketServer({ db, path, port, host: '127.0.0.1' })
// A client that reconnects right after closing (a store's pool, a test's
// set-up connection) would otherwise find the previous connection's handler
// not yet released and be refused ("Too many connections"): wait up to 2 s
// for it. A truly concurrent second connection is still refused.
const accept = server.handleConnection.bind(server)
server.handleConnection = async (socket) => {
  for (let i = 0; i < 200 && server.handlers.size >= 1; i++)
    await new Promise((resolve) => setTimeout(resolve, 10))
  return accept(socket)
}
await server.start()
const where = path ?? String(server.port)
process.stdout.write(`READY ${where}\n`)

const stop = async () => {
  try {
    await server.stop()
    await db.close()
  } finally {
    process.exit(0)
  }
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
