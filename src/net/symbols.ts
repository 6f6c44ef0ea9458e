/**
 * Internal protocol between the networking modules (transport <-> server <-> streams <->
 * subprocess). Symbols keep these members off the public surface.
 */
/** Transport: schedule `connectionMade` (and settle the opener's waiter after it). */
export const kStart = Symbol("multiloop.net.start");
/** Transport: the connection failed in a protocol callback or on the socket; abort with this error. */
export const kFatal = Symbol("multiloop.net.fatal");
/** Transport: a promise-free hook run once `connectionLost` has been called. */
export const kOnLost = Symbol("multiloop.net.onLost");
