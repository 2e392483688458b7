/*
 * exit-on-sigterm.cjs - preloaded into the Next.js server (node --require, or
 * NODE_OPTIONS="--require .../exit-on-sigterm.cjs" as the web image and
 * scripts/stack.sh do) so that a stop by SIGTERM exits 0.
 *
 * On SIGTERM Next.js stops accepting connections, lets the requests in
 * progress finish, closes the app, and then exits with 143 (128 + SIGTERM)
 * on purpose. For ECS, compose and scripts a stop they asked for is a clean
 * exit, so this turns that one exit code, and only after a SIGTERM, into 0.
 * Every other exit (a crash, a failed start) keeps its code.
 */
'use strict';

let terminating = false;
process.prependListener('SIGTERM', () => {
  terminating = true;
});
const exit = process.exit.bind(process);
process.exit = (code) => exit(terminating && code === 143 ? 0 : code);
