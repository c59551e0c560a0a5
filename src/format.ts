/** "1 pod", "3 pods": for decision explanations and scaler reasons. */
export function pods(n: number): string {
  return `${n} ${n === 1 ? 'pod' : 'pods'}`;
}
