/*
 * helpers.mjs - shared by the node:test suites of the Node binding: loads
 * the package from the build directory (CM_NODE_PACKAGE_DIR, set by the
 * meson test) and makes a fresh file-backed SQLite store per test.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const pkgDir = process.env.CM_NODE_PACKAGE_DIR;
if (!pkgDir)
  throw new Error('CM_NODE_PACKAGE_DIR is not set: run through `meson test --suite node`');

const require = createRequire(import.meta.url);
/** The package under test (index.js of the build directory). */
export const cm = require(join(pkgDir, 'index.js'));

/** A temporary directory removed by the returned cleanup function. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'cm-node-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Open a fresh store in a temporary directory; register its closing and
 * the removal of the directory on the test context `t`.
 */
export async function freshStore(t, options) {
  const { dir, cleanup } = tempDir();
  const store = await cm.open(`sqlite://${join(dir, 'test.db')}`, options);
  t.after(async () => {
    await store.close();
    cleanup();
  });
  return store;
}

let seq = 0;
/** A unique e-mail address. */
export function email(prefix = 'm') {
  seq += 1;
  return `${prefix}${process.pid}x${seq}@example.org`;
}

/** True when the library has this operation. */
export const hasOp = (name) => cm.operations.includes(name);
