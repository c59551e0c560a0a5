/** Erlang C: the probability that an arrival waits, for c servers and offered load a = λ/μ (a < c). */
export function erlangC(c: number, a: number): number {
  let sum = 0;
  let term = 1;
  for (let k = 0; k < c; k++) {
    if (k > 0) term *= a / k;
    sum += term;
  }
  const last = (term * a) / c; // a^c / c!
  const top = (last * c) / (c - a);
  return top / (sum + top);
}
