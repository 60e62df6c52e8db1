/**
 * Jinja2's Undefined as dbt compiles with it: a name that is not defined, a
 * missing key or attribute, a macro argument not passed, prints '' and is
 * false, but reading an attribute or item OF it raises UndefinedError
 * (`{{ foo.bar }}` with a mistyped `foo`: "'foo' is undefined"). nunjucks
 * gives '' for the whole chain, so a typo compiled silently into wrong SQL.
 *
 * dbt-core renders with jinja2's default Undefined at compile time and with a
 * lenient one (attributes and calls of an undefined give undefined) while it
 * parses (dbt_common/clients/jinja.py, `create_undefined` when
 * capture_macros): so the check is on only while {@linkcode strictUndefined}
 * says (renders with `execute` true).
 *
 * A missing attribute of one of the runner's own objects (a relation, a
 * column, an agate table...) stays lenient: such an object may lack an
 * attribute dbt's has, and failing a model that builds in dbt is worse than
 * the silent ''. Data (dicts, lists, str, numbers, None) follows Jinja2.
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";
import { isPlainDict, pyRepr, TUPLE } from "./py_repr.ts";
import { PyFloat } from "./py_number.ts";

/** Jinja2's UndefinedError: an undefined value was used as an object. */
export class UndefinedError extends Error {
  /** Creates it with Jinja2's message ("'foo' is undefined"). */
  constructor(message: string) {
    super(message);
    this.name = "UndefinedError";
  }
}

/** Whether reading through an undefined raises (a compile render). */
let strict = false;

/** Why the last lookup gave undefined: the object it read and the key, or lenient. */
let lastObject: unknown;
let lastKey: unknown;
let lastLenient = true;

/** The last {@linkcode UndefinedError} raised (nunjucks keeps only the message of what it catches). */
let raised: UndefinedError | undefined;

/**
 * The {@linkcode UndefinedError} that `error` (what a render threw, maybe
 * rewrapped by nunjucks) reports, if any.
 */
export function undefinedErrorIn(error: unknown): UndefinedError | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 10; depth++) {
    if (e instanceof UndefinedError) return e;
    if (raised !== undefined && e.message.includes(`UndefinedError: ${raised.message}`)) {
      return raised;
    }
    e = e.cause;
  }
  return undefined;
}

/** Whether a compile render is running (undefined lookups and macro arguments are checked). */
export function strictUndefinedOn(): boolean {
  return strict;
}

/** Runs `fn` with the check on (`on`) or off, restoring the outer setting after. */
export function strictUndefined<T>(on: boolean, fn: () => T): T {
  const outer = strict;
  strict = on;
  raised = undefined;
  try {
    return fn();
  } finally {
    strict = outer;
  }
}

/** Jinja2's object_type_repr: `'dict object'`, `'None'`... */
function typeRepr(value: unknown): string {
  if (value === null) return "None";
  if (typeof value === "string") return "str object";
  if (typeof value === "boolean") return "bool object";
  if (value instanceof PyFloat) return "float object";
  if (typeof value === "number") return Number.isInteger(value) ? "int object" : "float object";
  if (Array.isArray(value)) {
    return (value as { [TUPLE]?: boolean })[TUPLE] === true ? "tuple object" : "list object";
  }
  return "dict object";
}

/** Records why a lookup of `key` in `obj` found nothing (see {@linkcode checkDefined}). */
function recordMissing(obj: unknown, key: unknown): void {
  lastObject = obj;
  lastKey = key;
  // The runner's own objects (class instances, functions) may lack what dbt's have.
  lastLenient = obj === undefined ||
    (typeof obj === "object" && obj !== null && !Array.isArray(obj) && !isPlainDict(obj)) ||
    typeof obj === "function";
}

/**
 * The target of an attribute or item lookup, checked: an undefined one
 * raises while strict. `name` is what to say when the target is a variable
 * ("'foo' is undefined"); otherwise the lookup that gave undefined says why.
 */
function checkDefined(value: unknown, name: string | null): unknown {
  if (value !== undefined || !strict) return value;
  if (name === null && lastLenient) return value;
  const key = lastKey instanceof PyFloat ? lastKey.valueOf() : lastKey;
  raised = new UndefinedError(
    name !== null
      ? name
      : typeof key === "string"
      ? `'${typeRepr(lastObject)}' has no attribute '${key}'`
      : `${typeRepr(lastObject)} has no element ${pyRepr(key)}`,
  );
  throw raised;
}

interface Node {
  typename: string;
  value?: unknown;
  target?: Node;
  lineno: number;
  colno: number;
}

interface CompilerProto {
  compileLookupVal(this: CompilerProto, node: Node, frame: unknown): void;
  compileFunCall(this: CompilerProto, node: Node & { name: Node }, frame: unknown): void;
  _getNodeName(this: CompilerProto, node: Node): string;
  _compileExpression(node: unknown, frame: unknown): void;
  _emit(code: string): void;
  [method: string]: unknown;
}

interface Internals {
  compiler: { Compiler: { prototype: CompilerProto } };
  nodes: {
    Literal: {
      extend(name: string, props: Record<string, unknown>): new (...args: unknown[]) => Node;
    };
  };
  runtime: Record<string, unknown> & {
    memberLookup(obj: unknown, val: unknown, ...rest: unknown[]): unknown;
    callWrap(obj: unknown, name: string, context: unknown, args: unknown[]): unknown;
    _dbt_item?: (obj: unknown, key: unknown) => unknown;
    _dbt_defined?: (value: unknown, name: string | null) => unknown;
  };
}

let installed = false;

/**
 * Patches the compiler and runtime (once per process, after the Python
 * semantics): every lookup's target goes through the check, and every lookup
 * that finds nothing says why.
 */
export function installUndefined(): void {
  if (installed) return;
  installed = true;
  const internals = nunjucks as unknown as Internals;
  const { runtime } = internals;
  const lookup = runtime.memberLookup;
  runtime.memberLookup = function (obj, val, ...rest) {
    const found = lookup.call(this, obj, val, ...rest);
    if (found === undefined) recordMissing(obj, val);
    return found;
  };
  const item = runtime._dbt_item;
  if (item !== undefined) {
    runtime._dbt_item = (obj, key) => {
      const found = item(obj, key);
      if (found === undefined) recordMissing(obj, key);
      return found;
    };
  }
  runtime._dbt_defined = checkDefined;
  // A Literal subclass, so the compiler's expression type checks accept it in a target's place.
  // The checked target is its `value`.
  const Checked = internals.nodes.Literal.extend("DbtDefined", {});
  const proto = internals.compiler.Compiler.prototype;
  proto.compileDbtDefined = function (this: CompilerProto, node: Node, frame: unknown) {
    const target = node.value as Node;
    // A macro's parameter is bound to `l_<name>`: Jinja2 says it was not provided.
    const symbol = String(target.value);
    const name = target.typename !== "Symbol" ? "null" : JSON.stringify(
      (frame as { lookup(name: string): unknown }).lookup(symbol) === `l_${symbol}`
        ? `parameter '${symbol}' was not provided`
        : `'${symbol}' is undefined`,
    );
    // The line, as a call sets it, so the error names where the lookup is.
    this._emit(`(lineno = ${target.lineno}, colno = ${target.colno}, runtime._dbt_defined((`);
    this._compileExpression(target, frame);
    this._emit(`), ${name}))`);
  };
  const compileLookupVal = proto.compileLookupVal;
  proto.compileLookupVal = function (node, frame) {
    const target = node.target as Node;
    // Only a name or a lookup: what a call or an operator gives is never Jinja2's Undefined.
    if (target.typename === "Symbol" || target.typename === "LookupVal") {
      node.target = new Checked(target.lineno, target.colno, target);
    }
    compileLookupVal.call(this, node, frame);
  };
  // Calling an undefined raises as reading through it does (`{{ foo() }}`: "'foo' is undefined",
  // `{{ d.nope() }}`: "'dict object' has no attribute 'nope'"), so the callee is checked too.
  const compileFunCall = proto.compileFunCall;
  proto.compileFunCall = function (node, frame) {
    const callee = node.name;
    if (callee.typename === "Symbol" || callee.typename === "LookupVal") {
      node.name = new Checked(callee.lineno, callee.colno, callee);
    }
    compileFunCall.call(this, node, frame);
  };
  // While parsing, dbt's lenient Undefined gives itself back when called, so a model calling a
  // macro of a package not installed yet (`{{ dbt_utils.star(...) }}`) parses, as in dbt, and
  // fails at its compile.
  const callWrap = runtime.callWrap;
  runtime.callWrap = function (obj, name, context, args) {
    if (obj === undefined && !strict) return undefined;
    return callWrap.call(this, obj, name, context, args);
  };
  // Error messages name a call's callee from its nodes (`foo["bar"]`): the check is not a name.
  const getNodeName = proto._getNodeName;
  proto._getNodeName = function (this: CompilerProto, node: Node) {
    return getNodeName.call(this, node.typename === "DbtDefined" ? node.value as Node : node);
  };
}
