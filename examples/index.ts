/**
 * `npm start`: the demos, one after another.
 */
import { run, sleep, getRunningLoop } from "multiloop";

const result = await run(async () => {
  const loop = getRunningLoop();
  loop.callSoon(() => console.log("callSoon ran"));
  await sleep(10);
  return "done";
});
console.log(result);
