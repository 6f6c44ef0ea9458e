/**
 * `npm start`: the demos, one after another.
 */
import { main as threadErrors } from "./thread-errors.js";

console.log("multiloop demos (see examples/ for the sources)");
await threadErrors();
console.log("\nAll demos done.");
