/**
 * Internal protocol between the package's own modules (loop <-> future <-> task <-> handle).
 * Symbols keep these members off the public surface and out of autocompletion.
 */
export const kLoop = Symbol("multiloop.loop");
export const kFrame = Symbol("multiloop.frame");
export const kFutWaiter = Symbol("multiloop.futWaiter");
export const kMustCancel = Symbol("multiloop.mustCancel");
export const kStep = Symbol("multiloop.step");
export const kSetResult = Symbol("multiloop.setResult");
export const kSetException = Symbol("multiloop.setException");
export const kMakeCancelled = Symbol("multiloop.makeCancelled");
export const kCancelInternal = Symbol("multiloop.cancelInternal");
export const kMarkRetrieved = Symbol("multiloop.markRetrieved");
export const kLogDestroyPending = Symbol("multiloop.logDestroyPending");
export const kOnCancel = Symbol("multiloop.onCancel");
export const kYieldOnce = Symbol("multiloop.yieldOnce");
export const kSchedule = Symbol("multiloop.schedule");
export const kTasks = Symbol("multiloop.tasks");
export const kTaskAdd = Symbol("multiloop.taskAdd");
export const kPrevTask = Symbol("multiloop.prevTask");
export const kNextTask = Symbol("multiloop.nextTask");
export const kGatherStamp = Symbol("multiloop.gatherStamp");
export const kTaskOf = Symbol("multiloop.taskOf");
export const kTaskDone = Symbol("multiloop.taskDone");
export const kStepBegin = Symbol("multiloop.stepBegin");
export const kStepEnd = Symbol("multiloop.stepEnd");
export const kCallbackFrame = Symbol("multiloop.callbackFrame");
export const kUnretrieved = Symbol("multiloop.unretrieved");
export const kReportUnretrieved = Symbol("multiloop.reportUnretrieved");
export const kMailbox = Symbol("multiloop.mailbox");
export const kWake = Symbol("multiloop.wake");
export const kData = Symbol("multiloop.contextData");
export const kScheduleCall = Symbol("multiloop.scheduleCall");
// Call-graph introspection (call-graph.ts): read only when a graph is captured, never on a fast path.
export const kWaitsFor = Symbol("multiloop.waitsFor");
export const kWaitInfo = Symbol("multiloop.waitInfo");
export const kCallbacksOf = Symbol("multiloop.callbacksOf");
export const kDescribeWait = Symbol("multiloop.describeWait");
export const kAwaiterOf = Symbol("multiloop.awaiterOf");
export const kCallGraphParts = Symbol("multiloop.callGraphParts");
