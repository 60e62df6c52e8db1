/**
 * Jinja2 semantics that nunjucks lacks and that dbt packages rely on:
 *
 * - tuples: nunjucks compiles `('a', 'b')` to JavaScript's comma operator and
 *   keeps only `'b'`, so `x in ('a', 'b')` and `for x in ('a', 'b')` were wrong
 *   without an error; here a parenthesised list of two or more is a list;
 * - `{% set ns.attr = value %}` (namespace assignment) and
 *   `{% set a, b = pair %}` (unpacking), rewritten to plain tags by
 *   {@linkcode rewritePythonSyntax};
 * - `f(*items)` and `f(**mapping)` at call sites, and `varargs` / `kwargs`
 *   inside a macro called with more arguments than it names;
 * - negative indexes (`parts[-1]`) and the slice arguments nunjucks' own compat
 *   layer passes (`items[1:]`);
 * - the Jinja2 builtin filters `map`, `unique`, `min`, `max`, `attr`, `items`
 *   and the globals `dict`, `namespace`, `fromyaml`, `toyaml`.
 *
 * Installed once per process (the nunjucks internals are shared).
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";
import { dictEntries, dictFromPairs, dictKeys } from "./py_dict.ts";
import { dumpPyYaml, loadPyYaml } from "../project/yaml_value.ts";
import { dateArithmetic, dateEquals } from "./context.ts";
import { installBlockTags } from "./block_tags.ts";
import { installNumberLiterals } from "./number_literals.ts";
import { installStringLiterals } from "./string_literals.ts";
import {
  asTuple,
  isPlainDict,
  isPySet,
  PY_RANGE,
  pyRange,
  pyRepr,
  pyStr,
  TUPLE,
} from "./py_repr.ts";
import {
  formatNumber,
  isPyNumber,
  pyAdd,
  pyDiv,
  pyFixed,
  PyFloat,
  pyFloat,
  pyFloorDiv,
  pyGeneral,
  pyModNumbers,
  pyMulNumbers,
  pyNeg,
  pyPow,
  pySub,
  unbox,
} from "./py_number.ts";

interface AggregateNode {
  readonly children: unknown[];
}

interface PairNode {
  readonly key: { readonly value?: unknown };
  readonly value: unknown;
}

interface CompilerProto {
  compileGroup(
    this: CompilerProto,
    node: AggregateNode & { tuple?: boolean },
    frame: unknown,
  ): void;
  compileConcat(this: CompilerProto, node: BinaryNode, frame: unknown): void;
  compileCompare(this: CompilerProto, node: CompareNode, frame: unknown): void;
  compilePair(this: CompilerProto, node: PairNode, frame: unknown): void;
  compileDict(this: CompilerProto, node: AggregateNode, frame: unknown): void;
  compileKeywordArgs(this: CompilerProto, node: unknown, frame: unknown): void;
  _compileExpression(node: unknown, frame: unknown): void;
  _emit(code: string): void;
  _getNodeName(this: CompilerProto, node: unknown): string;
  _tmpid(): string;
  assertType(this: CompilerProto, node: unknown, ...types: unknown[]): void;
  compile(node: unknown, frame: unknown): void;
  compileMul(this: CompilerProto, node: BinaryNode, frame: unknown): void;
  compileAnd(this: CompilerProto, node: BinaryNode, frame: unknown): void;
  compileOr(this: CompilerProto, node: BinaryNode, frame: unknown): void;
  compileNot(this: CompilerProto, node: { target: unknown }, frame: unknown): void;
  compileIf(this: CompilerProto, node: { cond: unknown }, frame: unknown, async?: unknown): void;
  compileInlineIf(this: CompilerProto, node: { cond: unknown }, frame: unknown): void;
  compileLoopControl?(this: CompilerProto, node: { kind: string }, frame: unknown): void;
  compileMod(this: CompilerProto, node: BinaryNode, frame: unknown): void;
  compileAdd(this: CompilerProto, node: BinaryNode, frame: unknown): void;
  compileSub(this: CompilerProto, node: BinaryNode, frame: unknown): void;
  compileDiv(this: CompilerProto, node: BinaryNode, frame: unknown): void;
  compileFloorDiv(this: CompilerProto, node: BinaryNode, frame: unknown): void;
  compilePow(this: CompilerProto, node: BinaryNode, frame: unknown): void;
  compileNeg(this: CompilerProto, node: { target: unknown }, frame: unknown): void;
  compileLookupVal(
    this: CompilerProto,
    node: { target: unknown; val: unknown; subscript?: boolean },
    frame: unknown,
  ): void;
  compileLiteral(
    this: CompilerProto,
    node: { value: unknown; pyFloat?: boolean },
    frame: unknown,
  ): void;
  compileLoopFilter?(this: CompilerProto, node: LoopFilterNode, frame: CompileFrame): void;
  _compileAggregate(node: AggregateNode, frame: unknown, start: string, end: string): void;
  _emitLoopBindings(node: unknown, arr: string, i: string, len: string): void;
  _emitLine(code: string): void;
  compileFor(this: CompilerProto, node: ForNode, frame: CompileFrame): void;
  buffer: string;
  /** The recursive loop whose bindings are being emitted, with its function and depth ids. */
  _dbtRecursive?: { node: unknown; fn: string; depth: string } | undefined;
}

interface Token {
  readonly type: string;
  readonly value?: string | null;
  readonly lineno: number;
  readonly colno: number;
}

/** nunjucks' run-time scope. */
interface RuntimeFrame {
  pop(): RuntimeFrame;
  push(isolateWrites?: boolean): RuntimeFrame;
  set(name: string, value: unknown): void;
  lookup(name: string): unknown;
}

interface LoopFrame {
  set(name: string, value: unknown): void;
}

interface CompareNode {
  readonly expr: unknown;
  readonly ops: readonly { readonly type: string; readonly expr: unknown }[];
}

interface ParserProto {
  parseFor(this: ParserProto): ForNode;
  parseIs(this: ParserProto): unknown;
  parseFilter(this: ParserProto, node: unknown): unknown;
  parseCompare(): unknown;
  parsePrimary(noPostfix?: boolean): unknown;
  skipSymbol(name: string): boolean;
  peekToken(): Token | null;
  nextToken(): Token | null;
  parsePostfix(node: unknown): unknown;
  parseSignature(tolerant?: boolean, noParens?: boolean): unknown;
  skip(type: string): boolean;
  skipValue(type: string, value: string): boolean;
  fail(message: string, lineno?: number, colno?: number): never;
  parseAggregate(this: ParserProto): (AggregateNode & { tuple?: boolean }) | null;
  tokens: { index: number; lineno: number; colno: number };
  peeked: Token | null;
  parseExpression(this: ParserProto): unknown;
  parseMul(this: ParserProto): unknown;
  parsePow(this: ParserProto): unknown;
}

interface BinaryNode {
  readonly left: unknown;
  readonly right: unknown;
}

interface CompileFrame {
  push(): CompileFrame;
  set(name: string, id: string): void;
}

interface ForNode {
  name: { value?: string; children?: { value: string }[] };
  arr: unknown;
  recursive?: boolean;
}

interface InlineIfNode {
  body: unknown;
  cond: unknown;
  else_: unknown;
}

interface LoopFilterNode {
  arr: unknown;
  target: ForNode["name"];
  cond: unknown;
}

interface Internals {
  compiler: { Compiler: { prototype: CompilerProto } };
  parser: { Parser: { prototype: ParserProto } };
  nodes: {
    Node: {
      extend(name: string, props: Record<string, unknown>): new (...args: unknown[]) => unknown;
    };
    InlineIf: new () => InlineIfNode;
    Symbol: new (...args: unknown[]) => { value: string; lineno: number; colno: number };
    FunCall: new (...args: unknown[]) => unknown;
    NodeList: new (...args: unknown[]) => AggregateNode;
    Is: new (...args: unknown[]) => unknown;
    Literal: new (...args: unknown[]) => unknown;
    LookupVal: new (...args: unknown[]) => { subscript?: boolean };
    Not: new (...args: unknown[]) => unknown;
    Group: new (lineno: number, colno: number) => AggregateNode;
    Array: new (lineno: number, colno: number) => AggregateNode;
    Dict: new (lineno: number, colno: number) => AggregateNode;
    Pair: new (lineno: number, colno: number, key: unknown, value: unknown) => unknown;
    KeywordArgs: new (lineno?: number, colno?: number) => AggregateNode;
  };
  runtime: {
    callWrap(obj: unknown, name: string, context: unknown, args: unknown[]): unknown;
    _dbt_mul?: (a: unknown, b: unknown) => unknown;
    _dbt_mod?: (a: unknown, b: unknown) => unknown;
    _dbt_add?: (a: unknown, b: unknown) => unknown;
    _dbt_sub?: (a: unknown, b: unknown) => unknown;
    _dbt_div?: (a: unknown, b: unknown) => unknown;
    _dbt_floordiv?: (a: unknown, b: unknown) => unknown;
    _dbt_pow?: (a: unknown, b: unknown) => unknown;
    _dbt_neg?: (a: unknown) => unknown;
    _dbt_float?: (a: number) => unknown;
    _dbt_dict_key?: (key: unknown) => unknown;
    _dbt_dict?: (pairs: readonly (readonly [unknown, unknown])[]) => Record<string, unknown>;
    _dbt_dict_keys?: (dict: object) => unknown[];
    _dbt_dict_entries?: (dict: object) => [unknown, unknown][];
    _dbt_item?: (obj: unknown, key: unknown) => unknown;
    memberLookup(obj: unknown, key: unknown): unknown;
    _dbt_truthy?: (value: unknown) => boolean;
    _dbt_tuple?: (items: unknown[]) => unknown[];
    _dbt_str?: (value: unknown) => string;
    _dbt_eq?: (a: unknown, b: unknown) => boolean;
    _dbt_iter?: (items: unknown) => unknown;
    _dbt_iteration_frame?: (frame: RuntimeFrame, names: readonly string[]) => RuntimeFrame;
    _dbt_loop?: (
      frame: LoopFrame,
      items: unknown,
      i: number,
      recurse?: (items: unknown, depth: number) => string,
      depth?: number,
    ) => void;
    suppressValue(value: unknown, autoescape: boolean): unknown;
    inOperator(key: unknown, container: unknown): boolean;
    SafeString: new (...args: unknown[]) => unknown;
    contextOrFrameLookup(context: unknown, frame: unknown, name: string): unknown;
    Frame: { prototype: FrameProto };
  };
}

/** What {@linkcode frameSet} reads of nunjucks' runtime Frame. */
interface FrameProto {
  variables: Record<string, unknown>;
  set(name: string, value: unknown, resolveUp?: boolean): void;
  resolve(name: string, forWrite: boolean): FrameProto | undefined;
}

/** Each name a frame has set, split at its dots (`loop.index`), once per process. */
const NAME_PARTS = new Map<string, readonly string[]>();

/**
 * nunjucks' `Frame.prototype.set`, with each name split once per process: a loop sets 13
 * `loop.*` names per iteration (7 of nunjucks', 6 of {@linkcode loopExtras}), and
 * `name.split('.')` at each set made ~11 MB of arrays and cost ~10 ms per 10k models
 * compiled. Otherwise the same steps as nunjucks 3.2.4's runtime.js (resolving up to the
 * frame that has the name, creating the objects of a dotted name).
 */
function frameSet(this: FrameProto, name: string, value: unknown, resolveUp?: boolean): void {
  let parts = NAME_PARTS.get(name);
  if (parts === undefined) {
    parts = name.split(".");
    if (NAME_PARTS.size < 10_000) NAME_PARTS.set(name, parts);
  }
  let obj = this.variables;
  if (resolveUp) {
    const frame = this.resolve(parts[0] as string, true);
    if (frame) {
      frame.set(name, value);
      return;
    }
  }
  for (let i = 0; i < parts.length - 1; i++) {
    const id = parts[i] as string;
    if (!obj[id]) obj[id] = {};
    obj = obj[id] as Record<string, unknown>;
  }
  obj[parts[parts.length - 1] as string] = value;
}

/** `*items` at a call site: expanded into positional arguments by the patched `callWrap`. */
class Splat {
  constructor(readonly items: readonly unknown[]) {}
}

/** `**mapping` at a call site: merged into the keyword arguments. */
class KeywordSplat {
  constructor(readonly mapping: Readonly<Record<string, unknown>>) {}
}

/** One character written as a JavaScript string escape. */
function jsEscape(char: string): string {
  return char === "\\" ? "\\\\" : `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** `varargs` / `kwargs` of the macros being called, innermost last. */
const MACRO_EXTRAS: { varargs: unknown[]; kwargs: Record<string, unknown> }[] = [];

let installed = false;

/** Patches the nunjucks compiler and runtime (once per process). */
export function installPythonSemantics(): void {
  if (installed) return;
  installed = true;
  const internals = nunjucks as unknown as Internals;
  const proto = internals.compiler.Compiler.prototype;
  const compileGroup = proto.compileGroup;
  proto.compileGroup = function (node, frame) {
    if (node.children.length === 1 && !node.tuple) return compileGroup.call(this, node, frame);
    this._emit("runtime._dbt_tuple(");
    this._compileAggregate(node, frame, "[", "]");
    this._emit(")");
  };
  // `{{ x ~ y }}` joins Python's str() of each side (`'a' ~ none` is `aNone`, not `anull`).
  proto.compileConcat = function (node, frame) {
    this._emit("(runtime._dbt_str(");
    this.compile(node.left, frame);
    this._emit(") + runtime._dbt_str(");
    this.compile(node.right, frame);
    this._emit("))");
  };
  // `==` / `!=` compare lists and dicts by value, as Python does (JavaScript: by identity).
  const compileCompare = proto.compileCompare;
  proto.compileCompare = function (node, frame) {
    // `a < b <= c` is Python's `a < b and b <= c`, b evaluated once and c only when needed
    // (nunjucks emitted JavaScript's `(a < b) <= c`: `0 < 5 <= 1` was true).
    if (node.ops.length > 1) {
      let prev = this._tmpid();
      this._emit(`(() => { const ${prev} = `);
      this.compile(node.expr, frame);
      this._emit(";");
      node.ops.forEach((op, i) => {
        const id = this._tmpid();
        this._emit(`const ${id} = `);
        this.compile(op.expr, frame);
        const eq = ["==", "!=", "===", "!=="].includes(op.type);
        const test = eq
          ? `${op.type.startsWith("!") ? "!" : ""}runtime._dbt_eq(${prev}, ${id})`
          : `${prev} ${op.type} ${id}`;
        this._emit(
          i < node.ops.length - 1 ? `; if (!(${test})) return false; ` : `; return ${test}; `,
        );
        prev = id;
      });
      this._emit("})()");
      return;
    }
    const op = node.ops[0];
    if (node.ops.length !== 1 || !op || !["==", "!=", "===", "!=="].includes(op.type)) {
      return compileCompare.call(this, node, frame);
    }
    this._emit(`(${op.type.startsWith("!") ? "!" : ""}runtime._dbt_eq(`);
    this.compile(node.expr, frame);
    this._emit(", ");
    this.compile(op.expr, frame);
    this._emit("))");
  };
  // A dict key is an expression in Jinja (`{relation: []}` keys by the relation, `{col.name: c}`
  // by the column's name); nunjucks read a bare name as a string and refused anything else.
  const compilePair = proto.compilePair;
  proto.compileKeywordArgs = function (node, frame) {
    // `f(name=value)`: a dict whose keys are the names as written.
    this._emit("runtime.makeKeywordArgs({");
    (node as AggregateNode).children.forEach((child, i) => {
      const pair = child as PairNode;
      if (i > 0) this._emit(",");
      this._emit(`${JSON.stringify(String(pair.key.value))}: `);
      this._compileExpression(pair.value, frame);
    });
    this._emit("})");
  };
  // A dict literal whose keys are not all text is built from its pairs, so an int key stays
  // an int (`{1: 'a'}` printed `{'1': 'a'}` as a JavaScript object's text key).
  const compileDict = proto.compileDict;
  proto.compileDict = function (node, frame) {
    const pairs = node.children as PairNode[];
    const plain = (p: PairNode) =>
      typeof p.key.value === "string" && !isSymbol(p.key) && !/^\d+$/.test(p.key.value);
    // (`{'b': 1, '2': 'c'}` too: a JavaScript object would list '2' first.)
    if (pairs.every(plain)) {
      return compileDict.call(this, node, frame);
    }
    this._emit("runtime._dbt_dict([");
    pairs.forEach((pair, i) => {
      this._emit(i > 0 ? ",[" : "[");
      this._compileExpression(pair.key, frame);
      this._emit(",");
      this._compileExpression(pair.value, frame);
      this._emit("]");
    });
    this._emit("])");
  };
  proto.compilePair = function (node, frame) {
    if (typeof node.key.value === "string" && !isSymbol(node.key)) {
      return compilePair.call(this, node, frame);
    }
    this._emit("[runtime._dbt_dict_key(");
    this._compileExpression(node.key, frame);
    this._emit(")]: ");
    this._compileExpression(node.value, frame);
  };
  // `{% for x in items if cond %}`: nunjucks reads `items if cond` as an inline if with no
  // else, so the loop ran over `cond ? items : undefined`, evaluating cond with x unbound. Here
  // the items are filtered first, so `loop.last` / `loop.index` count only the kept ones.
  const LoopFilter = internals.nodes.Node.extend("LoopFilter", {
    fields: ["arr", "target", "cond"],
  });
  // Python truthiness: an empty list, dict or macro output is false (JavaScript: true), so
  // `{% if not values %}` and `x if items else y` decide as in dbt.
  // A node that compiles to `runtime.<helper>(<target>)`, with a builder wrapping a target.
  const helperNode = (name: "Truthy" | "Iterable", helper: string) => {
    const Node = internals.nodes.Node.extend(name, { fields: ["target"] });
    (proto as unknown as Record<string, unknown>)[`compile${name}`] = function (
      this: CompilerProto,
      node: { target: unknown },
      frame: unknown,
    ) {
      this._emit(`runtime.${helper}(`);
      this._compileExpression(node.target, frame);
      this._emit(")");
    };
    const wrap = (target: unknown) => {
      const node = new Node(0, 0) as { target: unknown };
      node.target = target;
      return node;
    };
    return [Node, wrap] as const;
  };
  const [Truthy, truthy] = helperNode("Truthy", "_dbt_truthy");
  // One name over a dict iterates its keys, over a str its characters (see parseFor).
  const [Iterable, iterable] = helperNode("Iterable", "_dbt_iter");
  const compileIf = proto.compileIf;
  proto.compileIf = function (node, frame, async) {
    node.cond = truthy(node.cond);
    compileIf.call(this, node, frame, async);
  };
  const compileInlineIf = proto.compileInlineIf;
  proto.compileInlineIf = function (node, frame) {
    node.cond = truthy(node.cond);
    compileInlineIf.call(this, node, frame);
  };
  proto.compileNot = function (node, frame) {
    this._emit("!runtime._dbt_truthy(");
    this._compileExpression(node.target, frame);
    this._emit(")");
  };
  const shortCircuit = (keepLeftWhen: "truthy" | "falsy") =>
    function (this: CompilerProto, node: BinaryNode, frame: unknown) {
      const id = this._tmpid();
      this._emit(
        `(function(${id}) { return ${
          keepLeftWhen === "truthy" ? "" : "!"
        }runtime._dbt_truthy(${id}) ? ${id} : (`,
      );
      this._compileExpression(node.right, frame);
      this._emit("); })(");
      this._compileExpression(node.left, frame);
      this._emit(")");
    };
  proto.compileOr = shortCircuit("truthy");
  proto.compileAnd = shortCircuit("falsy");
  const assertType = proto.assertType;
  proto.assertType = function (node, ...types) {
    if (node instanceof LoopFilter || node instanceof Truthy || node instanceof Iterable) return;
    assertType.call(this, node, ...types);
  };
  const parserProto = internals.parser.Parser.prototype;
  const nodes = internals.nodes;
  // `*`, `/`, `//` and `%` are one precedence level, left to right, as in Jinja2 and Python:
  // nunjucks nested them (`2 * 3 % 4` was 2 * (3 % 4) = 6, `10 / 5 // 2` was 10 / (5 // 2)).
  const MUL_OPS: Readonly<Record<string, string>> = {
    "*": "Mul",
    "/": "Div",
    "//": "FloorDiv",
    "%": "Mod",
  };
  type Binary = new (lineno: number, colno: number, left: unknown, right: unknown) => unknown;
  parserProto.parseMul = function () {
    let node = this.parsePow() as { lineno: number; colno: number };
    for (;;) {
      const tok = this.peekToken();
      const name = tok?.type === "operator" ? MUL_OPS[tok.value ?? ""] : undefined;
      if (name === undefined) return node;
      this.nextToken();
      const right = this.parsePow();
      const Ctor = (nodes as unknown as Record<string, Binary>)[name]!;
      node = new Ctor(node.lineno, node.colno, node, right) as typeof node;
    }
  };
  // Trailing commas, as Jinja2 (and Python) accept them: `('x',)` is a one-item tuple,
  // `[1, 2,]` a list, `{'a': 1,}` a dict and `f(a, b=1,)` a call (`config(materialized=
  // 'table', )` heads real models); nunjucks refused all but the first two.
  const CLOSERS = new Set(["right-paren", "right-bracket", "right-curly"]);
  // nunjucks' jinja-compat version, which reads what the plain one cannot as a slice (`[1:]`).
  const slicing = parserProto.parseAggregate;
  parserProto.parseAggregate = function () {
    const tokens = this.tokens;
    const state = { index: tokens.index, lineno: tokens.lineno, colno: tokens.colno };
    const peeked = this.peeked;
    try {
      return parseAggregate.call(this);
    } catch {
      // Not an aggregate: read again from the bracket, as a slice (or fail as nunjucks does).
      Object.assign(tokens, state);
      this.peeked = peeked;
      return slicing.call(this);
    }
  };
  const parseAggregate = function (this: ParserProto) {
    const tok = this.nextToken();
    if (tok === null) return null;
    const Kind = tok.type === "left-paren"
      ? nodes.Group
      : tok.type === "left-bracket"
      ? nodes.Array
      : tok.type === "left-curly"
      ? nodes.Dict
      : undefined;
    if (Kind === undefined) return null; // the caller fails, naming the token

    const node: AggregateNode & { tuple?: boolean } = new Kind(tok.lineno, tok.colno);
    for (;;) {
      if (CLOSERS.has(this.peekToken()?.type ?? "")) {
        this.nextToken();
        break;
      }
      if (node.children.length > 0) {
        if (!this.skip("comma")) {
          this.fail("parseAggregate: expected comma after expression", tok.lineno, tok.colno);
        }
        if (CLOSERS.has(this.peekToken()?.type ?? "")) {
          node.tuple = true;
          continue;
        }
      }
      if (Kind === nodes.Dict) {
        const key = this.parsePrimary() as { lineno: number; colno: number };
        if (!this.skip("colon")) {
          this.fail("parseAggregate: expected colon after dict key", tok.lineno, tok.colno);
        }
        node.children.push(new nodes.Pair(key.lineno, key.colno, key, this.parseExpression()));
      } else node.children.push(this.parseExpression());
    }
    return node;
  };
  parserProto.parseSignature = function (tolerant?: boolean, noParens?: boolean) {
    let tok = this.peekToken();
    if (!noParens && tok?.type !== "left-paren") {
      if (tolerant) return null;
      return this.fail("expected arguments", tok?.lineno, tok?.colno);
    }
    if (tok?.type === "left-paren") tok = this.nextToken();
    const args = new nodes.NodeList(tok?.lineno, tok?.colno);
    const kwargs = new nodes.KeywordArgs(tok?.lineno, tok?.colno);
    const end = (t: Token | null) => noParens ? t?.type === "block-end" : t?.type === "right-paren";
    for (let first = true;; first = false) {
      tok = this.peekToken();
      if (end(tok)) {
        if (!noParens) this.nextToken();
        break;
      }
      if (!first) {
        if (!this.skip("comma")) {
          this.fail("parseSignature: expected comma after expression", tok?.lineno, tok?.colno);
        }
        if (end(this.peekToken())) continue;
      }
      const arg = this.parseExpression() as { lineno: number; colno: number };
      if (this.skipValue("operator", "=")) {
        kwargs.children.push(new nodes.Pair(arg.lineno, arg.colno, arg, this.parseExpression()));
      } else args.children.push(arg);
    }
    if (kwargs.children.length > 0) args.children.push(kwargs);
    return args;
  };
  const parseFor = parserProto.parseFor;
  parserProto.parseFor = function () {
    // `{% for x in items recursive %}`: the word follows the iterable (and its `if`).
    const own = Object.hasOwn(this, "parseExpression") ? this.parseExpression : undefined;
    const inner = this.parseExpression;
    const restore = () => {
      if (own) this.parseExpression = own;
      else delete (this as Partial<ParserProto>).parseExpression;
    };
    let recursive = false;
    this.parseExpression = function () {
      restore();
      const expr = inner.call(this);
      const next = this.peekToken();
      if (next?.type === "symbol" && next.value === "recursive") {
        this.nextToken();
        recursive = true;
      }
      return expr;
    };
    let node: ForNode;
    try {
      node = parseFor.call(this);
    } finally {
      restore();
    }
    node.recursive = recursive;
    const arr = node.arr;
    // One name over a dict iterates its keys, over a str its characters, as in Python
    // (nunjucks iterated neither: the loop ran zero times).
    const single = !node.name.children;
    if (arr instanceof internals.nodes.InlineIf && arr.else_ === null) {
      const filter = new LoopFilter(0, 0) as LoopFilterNode;
      filter.arr = single ? iterable(arr.body) : arr.body;
      filter.target = node.name;
      filter.cond = arr.cond;
      node.arr = filter;
    } else if (single) node.arr = iterable(arr);
    return node;
  };
  proto.compileLoopFilter = function (node, frame) {
    const names = node.target.children
      ? node.target.children.map((c) => c.value)
      : [String(node.target.value)];
    const inner = frame.push();
    const [items, out, i, item] = [this._tmpid(), this._tmpid(), this._tmpid(), this._tmpid()];
    const ids = names.map((name) => {
      const id = this._tmpid();
      inner.set(name, id);
      return id;
    });
    this._emit(`(function(${items}) {\n${items} = runtime.fromIterator(${items});\n`);
    this._emit(`var ${out} = [];\nif (!${items}) return ${out};\n`);
    this._emit(
      `if (!runtime.isArray(${items})) ${items} = ${
        names.length > 1
          ? `runtime._dbt_dict_entries(${items})`
          : `runtime._dbt_dict_keys(${items})`
      };\n`,
    );
    this._emit(
      `for (var ${i} = 0; ${i} < ${items}.length; ${i}++) {\nvar ${item} = ${items}[${i}];\n`,
    );
    ids.forEach((id, k) =>
      this._emit(`var ${id} = ${names.length > 1 ? `${item}[${k}]` : item};\n`)
    );
    this._emit("if (runtime._dbt_truthy(");
    this._compileExpression(node.cond, inner);
    this._emit(`)) ${out}.push(${item});\n}\nreturn ${out};\n})(`);
    this._compileExpression(node.arr, frame);
    this._emit(")");
  };
  // `{% break %}` / `{% continue %}` (dbt enables Jinja2's loopcontrols): a loop's body is
  // compiled inline into a JavaScript `for`, so the statement itself is emitted.
  proto.compileLoopControl = function (node) {
    this._emitLine(`${node.kind === "break" ? "break" : "continue"};`);
  };
  // Jinja2's `loop.previtem` / `nextitem` / `cycle()` / `changed()` / `depth`, which nunjucks'
  // loops lack (`loop.cycle('odd', 'even')` failed as an unknown macro).
  const emitLoopBindings = proto._emitLoopBindings;
  proto._emitLoopBindings = function (node, arr, i, len) {
    // Each iteration runs in a fresh scope holding only the loop's names: a `{% set %}` in the
    // body neither leaks out of the loop nor into the next iteration, as in Jinja2 (dbt
    // packages rely on it: `{% set cols = cols.append(c) %}` inside a loop keeps the outer list).
    const target = (node as ForNode).name;
    const names = target.children ? target.children.map((c) => c.value) : [String(target.value)];
    this._emitLine(`frame = runtime._dbt_iteration_frame(frame, ${JSON.stringify(names)});`);
    emitLoopBindings.call(this, node, arr, i, len);
    const rec = this._dbtRecursive;
    if (rec !== undefined && rec.node === node) {
      this._emitLine(`runtime._dbt_loop(frame, ${arr}, ${i}, ${rec.fn}, ${rec.depth});`);
    } else this._emitLine(`runtime._dbt_loop(frame, ${arr}, ${i});`);
  };
  // A recursive loop is compiled as a function of its items and depth that returns its output;
  // `loop(children)` in the body calls it again one level deeper (Jinja2's recursive loops).
  const compileFor = proto.compileFor;
  proto.compileFor = function (node, frame) {
    if (!node.recursive) return compileFor.call(this, node, frame);
    const [fn, items, depth, out] = [this._tmpid(), this._tmpid(), this._tmpid(), this._tmpid()];
    const outer = this.buffer;
    const original = node.arr;
    const itemsName = `__dbt_recursive_${items}`;
    const symbol = new internals.nodes.Symbol(0, 0, itemsName);
    // A filter (`for x in items if cond recursive`) applies at every level.
    const filter = original instanceof LoopFilter ? original as LoopFilterNode : undefined;
    const source = filter ? filter.arr : original;
    if (filter) filter.arr = symbol;
    else node.arr = symbol;
    const inner = frame.push();
    inner.set(itemsName, items);
    this._emitLine(`var ${fn} = function(${items}, ${depth}) {`);
    this._emitLine(`var ${out} = "";`);
    this.buffer = out;
    const saved = this._dbtRecursive;
    this._dbtRecursive = { node, fn, depth };
    try {
      compileFor.call(this, node, inner);
    } finally {
      this._dbtRecursive = saved;
      this.buffer = outer;
    }
    this._emitLine(`return ${out};`);
    this._emitLine("};");
    this._emit(`${outer} += ${fn}(`);
    this._compileExpression(source, frame);
    this._emitLine(", 1);");
  };
  // `x is divisibleby 3`, `x is eq 'a'`: Jinja2 takes one argument without parentheses.
  const NOT_AN_ARGUMENT = new Set(["else", "or", "and", "if", "is", "not", "in", "recursive"]);
  const ARGUMENT_TOKENS = new Set([
    "string",
    "int",
    "float",
    "boolean",
    "none",
    "left-bracket",
    "left-curly",
  ]);
  // Jinja2 parses a test where it parses a filter (parse_filter_expr, just above unary
  // operators): `1 + x is odd` is `1 + (x is odd)`, `x is number | string` filters the test's
  // result, `none is none == true` compares it. nunjucks put `is` below comparisons, so those
  // failed to parse or tested the whole sum.
  parserProto.parseIs = function () {
    return this.parseCompare();
  };
  const parseTest = function (this: ParserProto, tested: unknown): unknown {
    let node = tested;
    const negated = this.skipSymbol("not");
    // The test's name is a name (`in`, `none`, `true` included), never indexed: `x is in [1]`.
    const name = this.nextToken();
    if (!name || !["symbol", "boolean", "none"].includes(name.type)) {
      throw new Error("expected a test name after 'is'");
    }
    const symbol = new nodes.Symbol(name.lineno, name.colno, String(name.value ?? "none"));
    let test: unknown = symbol;
    const next = this.peekToken();
    if (next?.type === "left-paren") {
      test = this.parsePostfix(symbol);
    } else if (
      next &&
      (ARGUMENT_TOKENS.has(next.type) ||
        (next.type === "symbol" && !NOT_AN_ARGUMENT.has(String(next.value))))
    ) {
      const argument = this.parsePrimary();
      test = new nodes.FunCall(
        symbol.lineno,
        symbol.colno,
        symbol,
        new nodes.NodeList(symbol.lineno, symbol.colno, [argument]),
      );
    }
    node = new nodes.Is(0, 0, node, test);
    return negated ? new nodes.Not(0, 0, node) : node;
  };
  // The filter loop of Jinja2: `|` and `is` in any order, each applied to what came before.
  const parseFilter = parserProto.parseFilter;
  parserProto.parseFilter = function (node) {
    let current = node;
    for (;;) {
      const filtered = parseFilter.call(this, current);
      if (this.skipSymbol("is")) current = parseTest.call(this, filtered);
      else return filtered;
    }
  };
  const runtime = internals.runtime;
  runtime.Frame.prototype.set = frameSet;
  runtime._dbt_loop = loopExtras;
  runtime._dbt_iteration_frame = (frame, names) => {
    const fresh = frame.pop().push(true);
    for (const name of names) fresh.set(name, frame.lookup(name));
    return fresh;
  };
  // `'-' * 20` repeats, `'%s.%s' % (a, b)` formats, as in Python (JavaScript gave NaN).
  runtime._dbt_mul = pythonMul;
  const SafeString = runtime.SafeString;
  runtime._dbt_truthy = (value) => {
    if (Array.isArray(value)) return value.length > 0;
    if (value instanceof SafeString) return String(value).length > 0;
    if (value instanceof Map || value instanceof Set) return value.size > 0;
    if (value instanceof PyFloat) return value.valueOf() !== 0;
    if (typeof value === "object" && value !== null) {
      const proto = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) return Object.keys(value).length > 0;
      return true;
    }
    return Boolean(value);
  };
  runtime._dbt_mod = pythonMod;
  runtime._dbt_tuple = asTuple;
  runtime._dbt_str = (value) => value === undefined ? "" : String(pyOutput(value));
  runtime._dbt_eq = pyEquals;
  runtime._dbt_iter = (items) =>
    typeof items === "string"
      ? [...items]
      : isPlainDict(items) && !(Symbol.iterator in items)
      ? dictKeys(items)
      : items;
  runtime._dbt_dict = dictFromPairs;
  runtime._dbt_dict_keys = dictKeys;
  runtime._dbt_dict_entries = dictEntries;
  // Python hashes 1 and 1.0 alike: one dict key. An integral float key is kept as its int.
  runtime._dbt_dict_key = dictKey;
  // `x in list` compares with Python's == (`1 in [1.0]`, `[1] in [[1]]`), not JavaScript identity.
  const inOperator = runtime.inOperator;
  runtime.inOperator = (key, container) =>
    // Jinja2's Undefined iterates as empty: `'quote' in nope` is False (nunjucks threw).
    container === undefined
      ? false
      : key instanceof PyFloat && isPlainDict(container)
      ? inOperator(dictKey(key), container)
      : Array.isArray(container) && (typeof key === "object" && key !== null)
      ? container.some((item) => pyEquals(key, item))
      // Numbers and bools by value: `1 in [True]`, `True in (1, 2)`, `1 in [1.0]` hold.
      : Array.isArray(container) &&
          (typeof key === "number" || typeof key === "boolean" || typeof key === "bigint")
      ? container.some((item) => pyEquals(key, item))
      : inOperator(key, container);
  // `{{ value }}` prints Python's str(): None, True, ['a', 1], {'k': 'v'}, ('a',).
  const suppressValue = runtime.suppressValue;
  runtime.suppressValue = (value, autoescape) => suppressValue(pyOutput(value), autoescape);
  const binary = (helper: string) =>
    function (this: CompilerProto, node: BinaryNode, frame: unknown) {
      this._emit(`runtime.${helper}(`);
      this.compile(node.left, frame);
      this._emit(", ");
      this.compile(node.right, frame);
      this._emit(")");
    };
  proto.compileMul = binary("_dbt_mul");
  proto.compileMod = binary("_dbt_mod");
  // Python's numbers: `4 / 2` is the float 2.0, `-7 % 3` is 2, `[1] + [2]` is [1, 2].
  // Dates and timedeltas add and subtract as in Python (`date.today() - timedelta(days=1)`).
  runtime._dbt_add = (a, b) => dateArithmetic("+", a, b) ?? keepTuple(a, b, pyAdd(a, b));
  runtime._dbt_sub = (a, b) => dateArithmetic("-", a, b) ?? pySub(a, b);
  runtime._dbt_div = pyDiv;
  runtime._dbt_floordiv = pyFloorDiv;
  runtime._dbt_pow = pyPow;
  runtime._dbt_neg = pyNeg;
  runtime._dbt_float = pyFloat;
  proto.compileAdd = binary("_dbt_add");
  proto.compileSub = binary("_dbt_sub");
  proto.compileDiv = binary("_dbt_div");
  proto.compileFloorDiv = binary("_dbt_floordiv");
  proto.compilePow = binary("_dbt_pow");
  proto.compileNeg = function (node, frame) {
    this._emit("runtime._dbt_neg(");
    this.compile(node.target, frame);
    this._emit(")");
  };
  // A float literal with an integral value (`1.0`) stays a float: the parser marks it.
  const compileLiteral = proto.compileLiteral;
  proto.compileLiteral = function (node, frame) {
    if (node.pyFloat === true && Number.isInteger(node.value)) {
      this._emit(`runtime._dbt_float(${String(node.value)})`);
    } else compileLiteral.call(this, node, frame);
  };
  // The callee's name that nunjucks writes into the compiled code for its error messages holds a
  // string literal's text as is, so a method called on a literal spanning lines or holding a
  // backslash (dbt_utils' safe_add: `'\n...'.format(...)`) made the template fail to compile.
  const getNodeName = proto._getNodeName;
  proto._getNodeName = function (node) {
    const name = getNodeName.call(this, node);
    const literal = (node as { typename?: string }).typename === "Literal";
    return literal ? name.replace(/[\\\n\r\u2028\u2029]/g, jsEscape) : name;
  };
  // `d['items']` is the dict's value, `d.items` its method, as Jinja2's getitem / getattr order:
  // nunjucks made both one lookup where the dict methods won, so `kwargs['values']` of an
  // accepted_values test (or any key named keys, values, items, get, update) gave a function.
  parserProto.parsePostfix = function (node) {
    for (let tok = this.peekToken(); tok; tok = this.peekToken()) {
      if (tok.type === "left-paren") {
        node = new internals.nodes.FunCall(tok.lineno, tok.colno, node, this.parseSignature());
      } else if (tok.type === "left-bracket") {
        const lookup = this.parseAggregate();
        if (lookup === null || lookup.children.length > 1) return this.fail("invalid index");
        const found = new internals.nodes.LookupVal(
          tok.lineno,
          tok.colno,
          node,
          lookup.children[0],
        );
        found.subscript = true;
        node = found;
      } else if (tok.type === "operator" && tok.value === ".") {
        this.nextToken();
        const val = this.nextToken();
        if (val === null || val.type !== "symbol") {
          return this.fail(
            `expected name as lookup value, got ${val?.value}`,
            val?.lineno,
            val?.colno,
          );
        }
        const name = new internals.nodes.Literal(val.lineno, val.colno, val.value);
        node = new internals.nodes.LookupVal(tok.lineno, tok.colno, node, name);
      } else break;
    }
    return node;
  };
  const compileLookupVal = proto.compileLookupVal;
  proto.compileLookupVal = function (node, frame) {
    if (!node.subscript || (node.val as { typename?: string }).typename === "Slice") {
      return compileLookupVal.call(this, node, frame);
    }
    this._emit("runtime._dbt_item((");
    this._compileExpression(node.target, frame);
    this._emit("),");
    this._compileExpression(node.val, frame);
    this._emit(")");
  };
  runtime._dbt_item = (obj, key) =>
    isPlainDict(obj) && typeof key === "string" && Object.hasOwn(obj, key)
      ? obj[key]
      : runtime.memberLookup(obj, key);
  // A float literal keeps its float-ness (`1.0`, `1e3`): number_literals.ts lexes Jinja2's forms.
  installNumberLiterals();
  installStringLiterals();
  installBlockTags();
  const parsePrimary = parserProto.parsePrimary;
  parserProto.parsePrimary = function (noPostfix?: boolean) {
    const first = this.peekToken();
    if (first?.type === "string") {
      // Adjacent string literals are one (`'a' 'b'` is `'ab'`), as Jinja2's parser joins them.
      this.nextToken();
      let value = String(first.value ?? "");
      while (this.peekToken()?.type === "string") value += String(this.nextToken()?.value ?? "");
      const node = new internals.nodes.Literal(first.lineno, first.colno, value);
      return noPostfix ? node : this.parsePostfix(node);
    }
    const float = first?.type === "float";
    const node = parsePrimary.call(this, noPostfix);
    if (float && node instanceof internals.nodes.Literal) {
      (node as { pyFloat?: boolean }).pyFloat = true;
    }
    return node;
  };
  const callWrap = runtime.callWrap;
  runtime.callWrap = function (obj, name, context, args) {
    if (!args.some((a) => a instanceof Splat || a instanceof KeywordSplat)) {
      return callWrap.call(this, obj, name, context, args);
    }
    const positional: unknown[] = [];
    let keywords: Record<string, unknown> | undefined;
    for (const arg of args) {
      if (arg instanceof Splat) positional.push(...arg.items);
      else if (arg instanceof KeywordSplat) keywords = { ...keywords, ...arg.mapping };
      else if (isKeywords(arg)) keywords = { ...keywords, ...arg };
      else positional.push(arg);
    }
    if (keywords !== undefined) positional.push({ ...keywords, __keywords: true });
    return callWrap.call(this, obj, name, context, positional);
  };
  const lookup = runtime.contextOrFrameLookup;
  runtime.contextOrFrameLookup = function (context, frame, name) {
    const value = lookup.call(this, context, frame, name);
    if (value !== undefined) return value;
    const extras = MACRO_EXTRAS.at(-1);
    if (name === "varargs") return asTuple([...(extras?.varargs ?? [])]);
    if (name === "kwargs") return extras?.kwargs ?? {};
    return undefined;
  };
}

/** What `loop.changed()` last saw, per loop (a loop's items list). */
const LAST_SEEN = new WeakMap<object, unknown[]>();

/** The loop attributes Jinja2 has and nunjucks lacks, set for iteration `i` over `items`. */
function loopExtras(
  frame: LoopFrame,
  items: unknown,
  i: number,
  recurse?: (items: unknown, depth: number) => string,
  depth = 1,
): void {
  const list = Array.isArray(items)
    ? items
    : typeof items === "object" && items !== null
    ? dictKeys(items)
    : [];
  frame.set("loop.previtem", i > 0 ? list[i - 1] : undefined);
  frame.set("loop.nextitem", list[i + 1]);
  if (recurse) {
    // `loop(children)`: the loop object is callable; its attributes stay writable for the
    // next iteration (a function's own `length` is read-only).
    const variables = (frame as unknown as { variables: Record<string, unknown> }).variables;
    const loop = variables.loop as Record<string, unknown>;
    if (typeof loop !== "function") {
      const call = (children: unknown) => recurse(children, depth + 1);
      for (const [key, value] of Object.entries(loop)) {
        Object.defineProperty(call, key, { value, writable: true, enumerable: true });
      }
      variables.loop = call;
    }
  }
  frame.set("loop.depth", depth);
  frame.set("loop.depth0", depth - 1);
  frame.set("loop.cycle", (...values: unknown[]) => {
    if (values.length === 0) throw new TypeError("loop.cycle() needs at least one value");
    return values[i % values.length];
  });
  frame.set("loop.changed", (...values: unknown[]) => {
    const key = list as object;
    if (i === 0) LAST_SEEN.delete(key);
    const last = LAST_SEEN.get(key);
    if (last !== undefined && pyEquals(last, values)) return false;
    LAST_SEEN.set(key, values);
    return true;
  });
}

/** What `{{ value }}` prints: Python's str() of data; objects with behaviour print themselves. */
function pyOutput(value: unknown): unknown {
  if (
    value === null || typeof value === "boolean" || Array.isArray(value) || isPlainDict(value)
  ) return pyStr(value);
  // `"" + box` would unbox a float (`1.0` printed as `1`); JavaScript's own number text
  // differs from Python's for small and huge values (`1e-05`, `1e+16`).
  if (value instanceof PyFloat) return value.toString();
  if (typeof value === "number" && !(Number.isInteger(value) && Math.abs(value) < 1e16)) {
    return formatNumber(value);
  }
  return value;
}

/** Python's `==`: lists and dicts by value, `True == 1`, a range only equals a range. */
export function pyEquals(a: unknown, b: unknown): boolean {
  const dates = dateEquals(a, b);
  if (dates !== undefined) return dates;
  // deno-lint-ignore eqeqeq
  if (a instanceof PyFloat || b instanceof PyFloat) return unbox(a) == unbox(b); // two boxes
  if (isPySet(a) || isPySet(b)) {
    // Sets compare by membership; a set never equals a list (`{1} == [1]` is False).
    return isPySet(a) && isPySet(b) && a.length === b.length &&
      a.every((item) => b.some((other) => pyEquals(item, other)));
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    // `range(3) == [0, 1, 2]` is False in Python; two ranges compare by their items.
    if (
      ((a as { [PY_RANGE]?: string })[PY_RANGE] === undefined) !==
        ((b as { [PY_RANGE]?: string })[PY_RANGE] === undefined)
    ) {
      return false;
    }
    return a.length === b.length && a.every((item, i) => pyEquals(item, b[i]));
  }
  if (isPlainDict(a) && isPlainDict(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && pyEquals(a[k], b[k]));
  }
  // A list or dict never equals anything else (`[] != 0`, `[] == ''` is False; JavaScript's
  // == coerced them to text).
  if (Array.isArray(a) !== Array.isArray(b) || isPlainDict(a) !== isPlainDict(b)) return false;
  // A str never equals a number or a bool (`'1' == 1` is False), nor '' equals 0.
  if ((typeof a === "string") !== (typeof b === "string")) {
    if (typeof a !== "object" && typeof b !== "object") return false;
  }
  // deno-lint-ignore eqeqeq
  return a == b;
}

/** A tuple joined with a tuple (`(1,) + (2,)`, `t * 2`) is a tuple in Python, not a list. */
function keepTuple(a: unknown, b: unknown, joined: unknown): unknown {
  const tuple = (v: unknown) => (v as { [TUPLE]?: boolean } | null)?.[TUPLE] === true;
  const both = Array.isArray(a) && Array.isArray(b) ? tuple(a) && tuple(b) : tuple(a) || tuple(b);
  return Array.isArray(joined) && both ? asTuple(joined) : joined;
}

function pythonMul(a: unknown, b: unknown): unknown {
  return keepTuple(a, b, multiply(a, b));
}

function multiply(a: unknown, b: unknown): unknown {
  const times = (n: unknown) => Math.max(0, Math.trunc(Number(n)));
  if (typeof a === "string" && typeof b === "number") return a.repeat(times(b));
  if (typeof b === "string" && typeof a === "number") return b.repeat(times(a));
  if (Array.isArray(a) && typeof b === "number") {
    return Array.from({ length: times(b) }, () => a).flat();
  }
  if (typeof a === "number" && Array.isArray(b)) {
    return Array.from({ length: times(a) }, () => b).flat();
  }
  return pyMulNumbers(a, b);
}

function pythonMod(a: unknown, b: unknown): unknown {
  if (typeof a === "string") {
    // `'%(name)s' % {'name': v}` takes each value from the dict by name.
    if (isPlainDict(b) && a.includes("%(")) {
      return a.replace(
        /%\((\w+)\)([-+ 0#]*\d*(?:\.\d+)?[sdifrxXeEgG])|%%/g,
        (_whole: string, name: string | undefined, spec: string | undefined) => {
          if (name === undefined) return "%";
          if (!Object.hasOwn(b, name)) {
            throw new TypeError(`format key '${name}' is not in the dict`);
          }
          return printf(`%${spec ?? "s"}`, [b[name]]);
        },
      );
    }
    // Only a tuple holds the arguments: a list is one value (`'%s' % [1]` is `[1]`), as in Python.
    return printf(a, isTuple(b) ? b : [b]);
  }
  return pyModNumbers(a, b);
}

/** Python's `%` formatting (`%s`, `%d`, `%05.2f`, `%x`, `%r`, `%%`), as `format` and `%` use it. */
export function printf(format: string, args: readonly unknown[]): string {
  let next = 0;
  const text = format.replace(
    /%([-+ 0#]*)(\d+)?(?:\.(\d+))?([sdifrxXoeEgGc%])/g,
    (_, flags: string, width: string | undefined, precision: string | undefined, kind: string) => {
      if (kind === "%") return "%";
      if (next >= args.length) throw new TypeError(`not enough arguments for format '${format}'`);
      const value = args[next++];
      let text: string;
      switch (kind) {
        case "d":
        case "i":
          text = typeof value === "bigint" ? String(value) : String(Math.trunc(Number(value)));
          break;
        case "f":
        case "F":
          text = pyFixed(Number(value), precision === undefined ? 6 : Number(precision));
          break;
        case "e":
        case "E":
          // Python writes at least two exponent digits: 1.234568e+04.
          text = Number(value).toExponential(precision === undefined ? 6 : Number(precision))
            .replace(/e([+-])(\d)$/, "e$10$2");
          if (kind === "E") text = text.toUpperCase();
          break;
        case "g":
        case "G":
          text = pyGeneral(
            Number(value),
            precision === undefined ? 6 : Number(precision),
            flags.includes("#"),
          );
          if (kind === "G") text = text.toUpperCase();
          break;
        case "x":
        case "X":
        case "o": {
          const n = Math.trunc(Number(value));
          const digits = Math.abs(n).toString(kind === "o" ? 8 : 16);
          const prefix = flags.includes("#") ? (kind === "o" ? "0o" : "0x") : "";
          text = `${n < 0 ? "-" : ""}${prefix}${digits}`;
          if (kind === "X") text = text.toUpperCase();
          break;
        }
        case "r":
          text = pyRepr(value); // Jinja2's Undefined: `Undefined`
          break;
        case "c":
          text = typeof value === "number" ? String.fromCodePoint(value) : String(value);
          break;
        default:
          text = pyStr(value); // Jinja2's Undefined: ''
          if (precision !== undefined) text = text.slice(0, Number(precision));
      }
      // `+` and ` ` put a sign (or a space) before a number that is not negative.
      if (kind !== "s" && kind !== "r" && kind !== "c" && /^[0-9]/.test(text)) {
        if (flags.includes("+")) text = `+${text}`;
        else if (flags.includes(" ")) text = ` ${text}`;
      }
      const size = Number(width ?? 0);
      if (text.length >= size) return text;
      if (flags.includes("-")) return text.padEnd(size);
      if (flags.includes("0") && kind !== "s") {
        const sign = /^[-+]/.test(text) ? text.charAt(0) : "";
        return sign + text.slice(sign.length).padStart(size - sign.length, "0");
      }
      return text.padStart(size);
    },
  );
  // As Python: arguments left over are an error (a dict alone may go unused).
  if (next < args.length && !(args.length === 1 && isPlainDict(args[0]))) {
    throw new TypeError(
      `not all arguments converted during string formatting ('${format}' % ${
        pyRepr(asTuple([...args]))
      })`,
    );
  }
  return text;
}

function isTuple(value: unknown): value is unknown[] {
  return Array.isArray(value) && (value as { [TUPLE]?: boolean })[TUPLE] === true;
}

function isSymbol(node: unknown): boolean {
  const symbol = (nunjucks as unknown as { nodes: { Symbol: new () => unknown } }).nodes.Symbol;
  return node instanceof symbol;
}

/** A dict key as stored: an integral float (`1.0`) is the int it equals, as Python hashes it. */
export function dictKey(key: unknown): unknown {
  return key instanceof PyFloat ? key.valueOf() : key;
}

function isKeywords(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null &&
    (value as { __keywords?: unknown }).__keywords === true;
}

/**
 * Runs a macro body with the arguments it did not name as `varargs` and
 * `kwargs` (Jinja2's names for them).
 */
export function withMacroExtras<T>(
  argNames: readonly string[],
  kwargNames: readonly string[],
  args: readonly unknown[],
  body: () => T,
): T {
  const last = args.at(-1);
  const keywords = isKeywords(last) ? last : undefined;
  const positional = keywords ? args.slice(0, -1) : args;
  const named = argNames.length + kwargNames.length;
  const varargs = positional.slice(named);
  const kwargs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(keywords ?? {})) {
    if (key !== "__keywords" && key !== "caller" && !kwargNames.includes(key)) {
      if (!argNames.includes(key)) kwargs[key] = value;
    }
  }
  MACRO_EXTRAS.push({ varargs, kwargs });
  try {
    return body();
  } finally {
    MACRO_EXTRAS.pop();
  }
}

/**
 * A `}}` that may close a dict inside a tag (`{'a': {'b': 1}}`) with more of
 * the expression after it (`}} | tojson }}`, `}}.items()`, `}} ~ x`, `}} if c`):
 * worth a scan.
 */
const NESTED_CLOSE = /\}\}(?:\}|\s*(?:[%),\][:}|.~+\-*\/=!<>]|(?:is|if|else|and|or|in|not)\b))/;

/**
 * Jinja2's lexer counts braces, so `{% set d = {'a': {'b': 1}} %}` is one
 * dict; nunjucks ends a variable at the first `}}`. Inside each tag, a `}`
 * that closes a dict and is followed by another `}` gets a space after it.
 * Strings, comments and raw blocks are left alone; no line moves.
 *
 * The scan jumps between the characters that matter (quotes, braces, `%`,
 * a backslash in a string) and gives `text` itself back when nothing needs a
 * space: `{{ col }},` (common SQL) passes the pre-check, and a character loop
 * building a copy cost ~15-25 ms per 10k models at each parse and compile.
 */
export function separateClosingBraces(text: string): string {
  const spaces: number[] = []; // a space goes in front of each of these offsets
  const n = text.length;
  let i = 0;
  while (i < n) {
    const open = text.indexOf("{", i);
    if (open < 0 || open === n - 1) break;
    const kind = text[open + 1];
    if (kind === "#") {
      const end = text.indexOf("#}", open + 2);
      i = end < 0 ? n : end + 2;
      continue;
    }
    if (kind !== "{" && kind !== "%") {
      i = open + 1;
      continue;
    }
    if (kind === "%" && /^\{%-?\s*raw\s*-?%\}/.test(text.slice(open, open + 20))) {
      // The endraw after this raw (searching the whole text found the file's first one,
      // and a second raw block left every later `{'a': {}}` unseparated).
      const found = text.slice(open).search(/\{%-?\s*endraw\s*-?%\}/);
      i = found < 0 ? n : open + found;
      continue;
    }
    let j = open + 2;
    let depth = 0;
    for (;;) {
      // test() and lastIndex, not exec(): no match array per stop.
      TAG_CHARS.lastIndex = j;
      if (!TAG_CHARS.test(text)) {
        j = n;
        break;
      }
      j = TAG_CHARS.lastIndex - 1;
      const c = text[j];
      if (c === "'" || c === '"') {
        // To the closing quote (a backslash escapes the character after it), or the end.
        const inString = c === "'" ? IN_SINGLE_QUOTES : IN_DOUBLE_QUOTES;
        let k = j + 1;
        for (;;) {
          inString.lastIndex = k;
          if (!inString.test(text)) {
            k = n;
            break;
          }
          k = inString.lastIndex;
          if (text[k - 1] !== "\\") break;
          k++;
        }
        j = k;
      } else if (c === "{") {
        depth++;
        j++;
      } else if (c === "}" && depth > 0) {
        depth--;
        if (text[j + 1] === "}") spaces.push(j + 1);
        j++;
      } else if (depth === 0 && c === (kind === "{" ? "}" : "%") && text[j + 1] === "}") {
        j += 2;
        break;
      } else j++;
    }
    i = j;
  }
  if (spaces.length === 0) return text;
  let out = "";
  let from = 0;
  for (const at of spaces) {
    out += `${text.slice(from, at)} `;
    from = at;
  }
  return out + text.slice(from);
}

/** What {@linkcode separateClosingBraces} stops at in a tag, outside strings. */
const TAG_CHARS = /['"{}%]/g;
/** What it stops at inside a '...' string: its end, or a backslash escaping the next. */
const IN_SINGLE_QUOTES = /['\\]/g;
/** The same inside a "..." string. */
const IN_DOUBLE_QUOTES = /["\\]/g;

const NAME = String.raw`[A-Za-z_][A-Za-z0-9_]*`;
const SET_ATTRIBUTE = new RegExp(
  String.raw`\{%(-?)\s*set\s+(${NAME})\.(${NAME})\s*=(?!=)([\s\S]*?)(-?)%\}`,
  "g",
);
const SET_UNPACK = new RegExp(
  String
    .raw`\{%(-?)\s*set\s+\(?\s*(${NAME}(?:\s*,\s*${NAME})+)\s*,?\s*\)?\s*=(?!=)([\s\S]*?)(-?)%\}`,
  "g",
);
const TAG = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g;

/**
 * Where the operand of a call-site `*`/`**` starting at `start` ends: at the
 * `,` or `)` that closes it at its own bracket depth, outside strings; -1
 * when the tag ends first.
 */
function splatOperandEnd(tag: string, start: number): number {
  let depth = 0;
  let quote = "";
  for (let j = start; j < tag.length; j++) {
    const c = tag[j] as string;
    if (quote !== "") {
      if (c === "\\") j++;
      else if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      if (depth === 0) return c === ")" ? j : -1;
      depth--;
    } else if (c === "," && depth === 0) return j;
  }
  return -1;
}

/**
 * `f(*items)` / `f(**mapping)` in one tag, whatever the operand (a name, a
 * call, literals with nested brackets: `f(**{'a': [1]})`), become
 * `f(_dbt_splat(items))` / `f(_dbt_kwsplat(mapping))`; a `*` inside a
 * string, or that multiplies, is left alone.
 */
function rewriteSplats(tag: string): string {
  let out = "";
  let quote = "";
  let previous = ""; // the last character outside strings that is not a space
  for (let i = 0; i < tag.length; i++) {
    const c = tag[i] as string;
    if (quote !== "") {
      out += c;
      if (c === "\\") {
        out += tag[i + 1] ?? "";
        i++;
      } else if (c === quote) quote = "";
      continue;
    }
    if (c === "*" && (previous === "(" || previous === ",")) {
      const stars = tag[i + 1] === "*" ? "**" : "*";
      const start = i + stars.length;
      const end = splatOperandEnd(tag, start);
      if (end > start && tag.slice(start, end).trim() !== "") {
        const operand = rewriteSplats(tag.slice(start, end));
        out += `${stars === "**" ? "_dbt_kwsplat" : "_dbt_splat"}(${operand})`;
        i = end - 1;
        previous = ")";
        continue;
      }
    }
    if (c === "'" || c === '"') quote = c;
    out += c;
    if (!/\s/.test(c)) previous = c;
  }
  return out;
}

/**
 * Rewrites the Jinja2 statements nunjucks cannot parse into ones it can,
 * keeping every line where it was: `{% set ns.x = v %}` becomes a call that
 * sets the attribute, `{% set a, b = pair %}` sets each name from the
 * pair, `f(*xs, **kw)` wraps the arguments for the patched call.
 */
export function rewritePythonSyntax(source: string): string {
  let text = NESTED_CLOSE.test(source) ? separateClosingBraces(source) : source;
  if (text.includes("set")) {
    text = text.replace(
      SET_ATTRIBUTE,
      (_, open: string, target: string, attr: string, expr: string, close: string) =>
        `{%${open} do _dbt_setattr(${target}, "${attr}", (${expr})) ${close}%}`,
    );
    text = text.replace(
      SET_UNPACK,
      (_, open: string, names: string, expr: string, close: string) => {
        const targets = names.split(",").map((n) => n.trim());
        const sets = targets.map((name, i) =>
          `{% set ${name} = _dbt_unpack(_dbt_unpacked, ${i}, ${targets.length}) ${
            i === targets.length - 1 ? close : ""
          }%}`
        );
        return `{%${open} set _dbt_unpacked = (${expr}) %}${sets.join("")}`;
      },
    );
  }
  if (text.includes("*")) {
    text = text.replace(TAG, (tag) => /[(,]\s*\*/.test(tag) ? rewriteSplats(tag) : tag);
  }
  return text;
}

/** The globals {@linkcode rewritePythonSyntax} and Jinja2 templates call. */
export const PYTHON_GLOBALS: Readonly<Record<string, (...args: unknown[]) => unknown>> = {
  // Python's range: prints `range(0, 3)` (nunjucks' printed the list) and refuses a zero step.
  range: (...args) => pyRange(args),
  _dbt_setattr(target, attr, value) {
    if (typeof target !== "object" || target === null) {
      throw new TypeError(
        `cannot set '${String(attr)}' on ${describe(target)}: only a namespace() takes attributes`,
      );
    }
    (target as Record<string, unknown>)[String(attr)] = value;
    return "";
  },
  _dbt_unpack(value, index, count) {
    const items = typeof value === "string" ? [...value] : value;
    if (!Array.isArray(items) || items.length !== count) {
      throw new TypeError(
        `cannot unpack ${describe(value)} into ${String(count)} names: it needs exactly ` +
          `${String(count)} items`,
      );
    }
    return items[Number(index)];
  },
  _dbt_splat(items) {
    // Python unpacks any iterable: a list or tuple, a string's characters, a dict's keys.
    if (Array.isArray(items)) return new Splat(items);
    if (typeof items === "string") return new Splat([...items]);
    if (typeof items === "object" && items !== null) {
      if (Symbol.iterator in items) return new Splat(Array.from(items as Iterable<unknown>));
      return new Splat(Object.keys(items).filter((key) => key !== "__keywords"));
    }
    throw new TypeError(`*${describe(items)}: not iterable`);
  },
  _dbt_kwsplat(mapping) {
    if (typeof mapping !== "object" || mapping === null || Array.isArray(mapping)) {
      throw new TypeError(`**${describe(mapping)}: not a mapping`);
    }
    const { __keywords: _, ...rest } = mapping as Record<string, unknown>;
    return new KeywordSplat(rest);
  },
  namespace(...args) {
    const positional = args.filter((a) => !isKeywords(a));
    return Object.assign(
      new Namespace(),
      ...positional.filter((a) => typeof a === "object" && a !== null),
      keywordObject(args),
    );
  },
  dict(...args) {
    const first = args[0];
    const base = typeof first === "object" && first !== null && !isKeywords(first)
      ? Array.isArray(first) ? Object.fromEntries(first as [string, unknown][]) : first
      : {};
    return { ...base as Record<string, unknown>, ...keywordObject(args) };
  },
  fromyaml(text, fallback) {
    try {
      return loadPyYaml(String(text));
    } catch (error) {
      if (fallback !== undefined) return fallback;
      throw error;
    }
  },
  toyaml(value) {
    return dumpPyYaml(value);
  },
};

/**
 * What `namespace()` makes: attributes set with `{% set ns.x = ... %}`. Not a dict:
 * `ns.items` / `ns.keys` are its attributes, never the dict methods of those names.
 */
export class Namespace {
  [key: string]: unknown;
}

function keywordObject(args: readonly unknown[]): Record<string, unknown> {
  const last = args.at(-1);
  if (!isKeywords(last)) return {};
  const { __keywords: _, ...rest } = last;
  return rest;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return "none";
  if (typeof value === "string") return `'${value}'`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

type FilterFn = (...args: unknown[]) => unknown;

/**
 * The value at an attribute path of Jinja2's filters (`map(attribute=...)`,
 * `min(attribute=...)`, `selectattr`, `sum(attribute=...)`): `a.b`, `items.0`
 * (a digit part indexes an array), or a number (an index); `undefined` where
 * the path leaves the value.
 */
export function attributeOf(item: unknown, path: unknown): unknown {
  if (typeof path === "number") return (item as unknown[] | null)?.[path];
  let value = item;
  for (const part of String(path).split(".")) {
    if (value === null || value === undefined) return undefined;
    const key = /^\d+$/.test(part) && Array.isArray(value) ? Number(part) : part;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

function listOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === "string") return [...value];
  if (value instanceof Set || value instanceof Map) return [...value.keys()];
  if (typeof value === "object" && value !== null) return dictKeys(value);
  return [];
}

function compare(a: unknown, b: unknown): number {
  // Ints and floats (a boxed `10.0` too) compare by value, as in Python.
  if (isPyNumber(a) && isPyNumber(b)) return Number(a) - Number(b);
  const [x, y] = [String(a), String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Jinja2's builtin filters that nunjucks lacks, added to an environment. */
export function addPythonFilters(env: nunjucks.Environment): void {
  const getFilter = (name: string): FilterFn => env.getFilter(name) as FilterFn;
  env.addFilter("map", (seq: unknown, ...args: unknown[]) => {
    const kwargs = isKeywords(args.at(-1)) ? args.pop() as Record<string, unknown> : {};
    const items = listOf(seq);
    if (kwargs.attribute !== undefined) {
      return items.map((item) => attributeOf(item, kwargs.attribute) ?? kwargs.default ?? null);
    }
    const [name, ...rest] = args;
    if (typeof name !== "string") {
      throw new TypeError("map() needs a filter name or attribute=...");
    }
    const filter = getFilter(name);
    return items.map((item) => filter(item, ...rest));
  });
  const keyed = (kwargs: Record<string, unknown>) => (item: unknown) => {
    const value = kwargs.attribute === undefined ? item : attributeOf(item, kwargs.attribute);
    return kwargs.case_sensitive !== true && typeof value === "string"
      ? value.toLowerCase()
      : value;
  };
  env.addFilter("unique", (seq: unknown, kwargs?: unknown) => {
    const key = keyed(isKeywords(kwargs) ? kwargs : {});
    const seen = new Set<unknown>();
    return listOf(seq).filter((item) => {
      const k = key(item);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  });
  for (const [name, sign] of [["min", 1], ["max", -1]] as const) {
    env.addFilter(name, (seq: unknown, kwargs?: unknown) => {
      const key = keyed(isKeywords(kwargs) ? kwargs : {});
      const items = listOf(seq);
      if (items.length === 0) return undefined;
      return items.reduce((best, item) => sign * compare(key(item), key(best)) < 0 ? item : best);
    });
  }
  env.addFilter("attr", (value: unknown, name: unknown) => attributeOf(value, String(name)));
  env.addFilter("format", (format: unknown, ...args: unknown[]) => printf(String(format), args));
  // Jinja2's selectattr/rejectattr take a test and its arguments (`selectattr('type',
  // 'equalto', 'view')`); nunjucks' only test the attribute for truth.
  const getTest = (name: string) =>
    (env as unknown as { getTest(name: string): ((...args: unknown[]) => boolean) | undefined })
      .getTest(name);
  (env as unknown as { addTest(name: string, fn: (v: unknown, seq: unknown) => boolean): void })
    .addTest(
      "in",
      (value, seq) =>
        typeof seq === "string" ? seq.includes(String(value)) : listOf(seq).includes(value),
    );
  for (const [name, keep] of [["selectattr", true], ["rejectattr", false]] as const) {
    env.addFilter(name, (seq: unknown, attr: unknown, test?: unknown, ...args: unknown[]) => {
      const check = test === undefined ? (v: unknown) => Boolean(v) : (() => {
        const fn = getTest(String(test));
        if (!fn) throw new TypeError(`${name}(): no test named '${String(test)}'`);
        return (v: unknown) => fn.call(null, v, ...args);
      })();
      return listOf(seq).filter((item) => check(attributeOf(item, attr)) === keep);
    });
  }
  env.addFilter(
    "items",
    (value: unknown) =>
      value instanceof Map
        ? [...value.entries()]
        : typeof value === "object" && value !== null
        ? dictEntries(value)
        : [],
  );
}
