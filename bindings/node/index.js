/*
 * index.js - entry point of the libcommunity Node package.
 *
 * Loads the native addon (community.node, with libcommunity.so.0 beside it)
 * and derives one method per operation from the library's own operation
 * table (cm_ops_describe) at load time: "events.create" becomes
 * store.events.create(input, actor), which is store.exec("events.create",
 * input, actor). Nothing about an operation is written here by hand.
 */
'use strict';

const native = require('./community.node');

const { Store, Scheduler, describe, codes, version, vec } = native;

/** The operation table, as the library describes it. */
const table = describe();

/* Names a module namespace may not take (they are Store's own members). */
const RESERVED = new Set([
  'exec', 'execStream', 'close', 'describe', 'closed', 'backend', 'pending', 'constructor',
  'then', '__proto__', 'prototype', 'toString', 'valueOf',
]);

/** module name -> [verb, ...], in table order. */
const modules = new Map();
for (const op of table.operations) {
  const dot = op.name.indexOf('.');
  if (dot <= 0)
    continue;
  const mod = op.name.slice(0, dot);
  const verb = op.name.slice(dot + 1);
  if (!modules.has(mod))
    modules.set(mod, []);
  modules.get(mod).push(verb);
}

function makeMethod(store, name) {
  const fn = function (input, actor) {
    return store.exec(name, input, actor);
  };
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}

for (const [mod, verbs] of modules) {
  if (RESERVED.has(mod))
    continue; /* still reachable through store.exec() */
  Object.defineProperty(Store.prototype, mod, {
    configurable: true,
    enumerable: false,
    get() {
      const ns = Object.create(null);
      for (const verb of verbs)
        ns[verb] = makeMethod(this, `${mod}.${verb}`);
      Object.freeze(ns);
      /* Cache the namespace on the instance: later reads skip the getter. */
      Object.defineProperty(this, mod, { value: ns, enumerable: false });
      return ns;
    },
  });
}

/** Operation names, sorted. */
const operations = table.operations.map((op) => op.name);

module.exports = {
  open: native.open,
  openSync: native.openSync,
  describe,
  Store,
  Scheduler,
  codes,
  version,
  vec,
  operations,
};
