import { createRequire } from 'node:module';
import type { MathNode } from 'mathjs';

/** A rate formula that cannot be used; the message names what is wrong, the caller adds the field. */
export class FormulaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormulaError';
  }
}

/** The variables a formula sees, in seconds since the start, hours and days. */
export const FORMULA_VARIABLES = ['t', 'h', 'day'] as const;
export const FORMULA_CONSTANTS = ['pi', 'e', 'tau'] as const;
/** mathjs functions a formula may call: numbers in, a number out, nothing random (a seed must reproduce a run). */
export const FORMULA_FUNCTIONS = [
  'abs', 'sign', 'ceil', 'floor', 'round', 'fix', 'mod', 'min', 'max',
  'sqrt', 'cbrt', 'square', 'cube', 'pow', 'exp', 'expm1', 'log', 'log2', 'log10', 'log1p', 'hypot',
  'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'atan2', 'sinh', 'cosh', 'tanh',
] as const;
/** Operators, by the mathjs function they call: arithmetic, comparisons and logic; no bitwise or unit conversion. */
const OPERATORS = new Set([
  'add', 'subtract', 'multiply', 'divide', 'pow', 'mod', 'unaryMinus', 'unaryPlus',
  'smaller', 'larger', 'smallerEq', 'largerEq', 'equal', 'unequal', 'and', 'or', 'xor', 'not',
]);

const SYMBOLS = new Set<string>([...FORMULA_VARIABLES, ...FORMULA_CONSTANTS]);
const FUNCTIONS = new Set<string>(FORMULA_FUNCTIONS);
const USE = '(the formula may use t, h, day, pi, e, tau, and mathjs functions)';

/** What mathjs calls the nodes a formula must not have, in words. */
const FORBIDDEN: Record<string, string> = {
  AssignmentNode: 'assignments', FunctionAssignmentNode: 'function definitions', BlockNode: 'several expressions',
  AccessorNode: 'property and index accesses', IndexNode: 'property and index accesses', ObjectNode: 'objects',
  ArrayNode: 'matrices', RangeNode: 'ranges',
};

const forbidden = (type: string) => new FormulaError(`${FORBIDDEN[type] ?? `${type}s`} are not allowed in a rate formula`);

type Parse = (expression: string) => MathNode;
let limitedParse: Parse | undefined;

/**
 * mathjs, loaded on the first formula only (it takes the better part of a
 * second): the number-only build, with the functions the mathjs security
 * notes name as risky (import, createUnit, evaluate, parse, compile,
 * simplify, derivative, resolve…) replaced by ones that throw. Formulas are
 * also checked node by node before they are compiled, against the short
 * lists above: that check is what keeps a scenario from running anything else.
 */
function parser(): Parse {
  if (limitedParse) return limitedParse;
  const mathjs = createRequire(import.meta.url)('mathjs/number') as typeof import('mathjs');
  const math = mathjs.create(mathjs.all);
  const parse = math.parse.bind(math) as Parse;
  const disabled = (name: string) => () => { throw new Error(`function ${name} is disabled`); };
  const risky = ['import', 'createUnit', 'evaluate', 'parse', 'compile', 'simplify', 'derivative', 'resolve', 'reviver', 'parser'];
  math.import(Object.fromEntries(risky.map((name) => [name, disabled(name)])), { override: true });
  limitedParse = parse;
  return parse;
}

function check(root: MathNode): void {
  root.traverse((node, path, parent) => {
    switch (node.type) {
      case 'ConstantNode': {
        const value = (node as unknown as { value: unknown }).value;
        if (typeof value !== 'number') throw new FormulaError(`${JSON.stringify(value)} is not a number ${USE}`);
        return;
      }
      case 'SymbolNode': {
        const name = (node as unknown as { name: string }).name;
        if (path === 'fn' && parent?.type === 'FunctionNode') return; // checked as the function
        if (!SYMBOLS.has(name)) throw new FormulaError(`unknown symbol ${JSON.stringify(name)} ${USE}`);
        return;
      }
      case 'FunctionNode': {
        const fn = (node as unknown as { fn: MathNode }).fn;
        if (fn.type !== 'SymbolNode') throw forbidden(fn.type);
        const name = (fn as unknown as { name: string }).name;
        if (!FUNCTIONS.has(name)) throw new FormulaError(`unknown function ${JSON.stringify(name)} (a formula may call ${FORMULA_FUNCTIONS.join(', ')})`);
        return;
      }
      case 'OperatorNode': {
        const { fn, op } = node as unknown as { fn: string; op: string };
        if (!OPERATORS.has(fn)) throw new FormulaError(`operator ${JSON.stringify(op)} is not allowed (arithmetic, comparisons, and, or, not, ?: are)`);
        return;
      }
      case 'ParenthesisNode':
      case 'ConditionalNode':
      case 'RelationalNode':
        return;
      default:
        throw forbidden(node.type);
    }
  });
}

/**
 * Compiles a rate formula once and evaluates it at t = 0, 1, …, seconds − 1
 * (h = t/3600, day = t/86400): the rate during second [s, s + 1) is its value
 * at t = s. A value that is not a finite number ≥ 0 is an error naming t.
 */
export function formulaRates(expression: string, seconds: number): Float64Array {
  if (expression.trim() === '') throw new FormulaError('must be a formula such as "50 + 30*sin(2*pi*t/86400)"');
  let node: MathNode;
  try {
    node = parser()(expression);
  } catch (err) {
    if (err instanceof SyntaxError) throw new FormulaError(`not a formula: ${err.message}`);
    throw err;
  }
  check(node);
  const code = node.compile();
  const out = new Float64Array(Math.ceil(seconds));
  const scope = new Map<string, number>();
  for (let s = 0; s < out.length; s++) {
    scope.set('t', s);
    scope.set('h', s / 3600);
    scope.set('day', s / 86400);
    let v: unknown;
    try {
      v = code.evaluate(scope);
    } catch (err) {
      throw new FormulaError(`at t = ${s} s: ${(err as Error).message}`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new FormulaError(`at t = ${s} s the formula gives ${typeof v === 'number' ? v : JSON.stringify(v) ?? String(v)} (a rate must be a finite number ≥ 0)`);
    }
    out[s] = v;
  }
  return out;
}
