// server.mjs - s3rver (an S3-compatible server) on a loopback port for the
// blob tests, with bucket "cm-test". Started by tests/blob/with-s3.sh; not
// meant to be run by hand.
//
//   node server.mjs DIR      objects are kept under DIR
//
// Prints "READY <port>" on stdout once clients may connect. s3rver checks
// the access key id (S3RVER) but not the SigV4 signature: the signatures
// are checked against AWS's vectors in the sigv4 suite.
import S3rver from 's3rver'

const dir = process.argv[2]
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: dir,
  configureBuckets: [{ name: 'cm-test', configs: [] }],
})
const { port } = await server.run()
process.stdout.write(`READY ${port}\n`)
const stop = async () => {
  await server.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
