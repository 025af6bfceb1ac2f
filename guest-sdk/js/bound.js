// The world's interfaces the generated entry binds (`bind` in exports.js
// stores them here): the one copy of them that the exports and every
// Context share. Keyed by camel-case interface name (`context`,
// `keyvalue`, `sessionState`, ...); an interface the manifest's
// capabilities leave out is absent.

/** The bound interfaces (a live binding: read it, set it with `setInterfaces`). */
export let interfaces = {};

/** Replace the bound interfaces; `bind` calls it. */
export function setInterfaces(bound) {
  interfaces = bound;
}
