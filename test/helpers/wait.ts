/**
 * Polls `cond` (awaited, so it may be async) every few milliseconds until it holds; fails the test after `ms`,
 * saying `what` (a function is asked at the failure, so it can describe the state then).
 */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000, what?: string | (() => string)): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met in time${what === undefined ? '' : `: ${typeof what === 'function' ? what() : what}`}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
