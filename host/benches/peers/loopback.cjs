// Preloaded into the Node reference server (`node --require`) so that it
// listens on 127.0.0.1 only: it calls `listen(port)`, which binds every
// interface, and the benchmarks start servers on the loopback interface.
"use strict";
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const portOnly =
    (typeof args[0] === "number" || typeof args[0] === "string") &&
    (args.length === 1 || typeof args[1] === "function");
  if (portOnly) {
    args.splice(1, 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
