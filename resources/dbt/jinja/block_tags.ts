/**
 * Jinja2 block tags that nunjucks lacks or reads only in part, as dbt
 * packages write them:
 *
 * - `{% with a = x, b = y %}...{% endwith %}` (a Jinja2 built-in since 2.9):
 *   an inner scope; the values are evaluated in the outer scope, and names
 *   set inside (by the tag or by `{% set %}`) are gone after `endwith`.
 *   nunjucks refused the tag ("unknown block tag: with");
 * - `{% filter f(args) | g %}...{% endfilter %}`: a chain of filters over the
 *   block (nunjucks took one filter and refused the `|`);
 * - `{% set x | f | g %}...{% endset %}`: a block set whose text goes through
 *   filters (nunjucks refused the `|`);
 * - `{% set ns.attr %}...{% endset %}`: a block set into a namespace's
 *   attribute (dbt-utils' tests collect their error text so); nunjucks'
 *   compiler crashed on the attribute target ("reading 'charAt'").
 *
 * Installed once per process (the nunjucks parser and compiler are shared).
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";

interface Token {
  readonly type: string;
  readonly value: string;
  readonly lineno: number;
  readonly colno: number;
}

interface NodeListNode {
  children: unknown[];
}

interface FilterNode {
  args: NodeListNode;
}

interface SymbolNode {
  readonly value: string;
  readonly lineno: number;
  readonly colno: number;
}

interface WithNode {
  targets: SymbolNode[];
  values: unknown[];
  body: unknown;
}

interface Parser {
  peekToken(): Token;
  nextToken(): Token;
  skip(type: string): boolean;
  skipSymbol(name: string): boolean;
  skipValue(type: string, value: string): boolean;
  fail(message: string, lineno?: number, colno?: number): never;
  parseStatement(this: Parser): unknown;
  parseSet(this: Parser): unknown;
  parseFilterStatement(this: Parser): unknown;
  parsePrimary(): unknown;
  parseExpression(): unknown;
  parseFilterName(): SymbolNode;
  parseFilterArgs(node: unknown): unknown[];
  parseFilter(node: unknown): unknown;
  parseUntilBlocks(...names: string[]): unknown;
  advanceAfterBlockEnd(name?: string): Token;
  parseRaw(this: Parser, tagName?: string): unknown;
  dropLeadingWhitespace: boolean;
  tokens: {
    _extractRegex(regex: RegExp): RegExpMatchArray | null;
    backN(n: number): void;
  };
}

interface Compiler {
  compile(node: unknown, frame: unknown): void;
  _compileExpression(node: unknown, frame: unknown): void;
  _emit(code: string): void;
  _emitLine(code: string): void;
  _tmpid(): string;
  compileWith?(this: Compiler, node: WithNode, frame: unknown): void;
}

interface CompileFrame {
  set(name: string, id: string): void;
}

type NodeClass = new (lineno: number, colno: number, ...fields: unknown[]) => unknown;

interface Internals {
  parser: { Parser: { prototype: Parser } };
  compiler: { Compiler: { prototype: Compiler } };
  runtime: { Frame: new (parent?: unknown, isolateWrites?: boolean) => CompileFrame };
  nodes: {
    Node: { extend(name: string, props: Record<string, unknown>): NodeClass };
    Symbol: new (...args: unknown[]) => SymbolNode;
    Literal: NodeClass;
    LookupVal: new (...args: unknown[]) => { target: unknown; val: { value: unknown } };
    FunCall: NodeClass;
    Filter: NodeClass;
    NodeList: NodeClass;
    Capture: NodeClass;
    Output: NodeClass;
    TemplateData: NodeClass;
    Set: new (lineno: number, colno: number, targets: unknown[]) => {
      targets: unknown[];
      value: unknown;
      body: unknown;
    };
  };
}

let installed = false;

/** Adds `with` and filter chains on `filter` / block `set` to nunjucks (once per process). */
export function installBlockTags(): void {
  if (installed) return;
  installed = true;
  const { parser, compiler, runtime, nodes } = nunjucks as unknown as Internals;
  const parserProto = parser.Parser.prototype;
  const compilerProto = compiler.Compiler.prototype;
  const With = nodes.Node.extend("With", { fields: ["targets", "values", "body"] });

  /**
   * The filters written after `first` (`f(a) | g`), applied to a body parsed later: the chain
   * is built around a placeholder, which `fill` replaces with the body.
   */
  const parseFilterChain = (self: Parser, first: SymbolNode) => {
    const head = new nodes.Filter(
      first.lineno,
      first.colno,
      first,
      new nodes.NodeList(first.lineno, first.colno, [null, ...self.parseFilterArgs(first)]),
    ) as FilterNode;
    const chain = self.parseFilter(head);
    return {
      chain,
      fill(body: unknown) {
        head.args.children[0] = body;
      },
    };
  };

  parserProto.parseFilterStatement = function () {
    const tag = this.peekToken();
    if (!this.skipSymbol("filter")) this.fail("expected filter", tag.lineno, tag.colno);
    const name = this.parseFilterName();
    const { chain, fill } = parseFilterChain(this, name);
    this.advanceAfterBlockEnd(tag.value);
    fill(new nodes.Capture(name.lineno, name.colno, this.parseUntilBlocks("endfilter")));
    this.advanceAfterBlockEnd();
    return new nodes.Output(name.lineno, name.colno, [chain]);
  };

  // nunjucks' set parse with one more form: `{% set x | f %}` (its parser keeps one token of
  // look-ahead, too little to tell that form apart before its own parse fails on the `|`).
  parserProto.parseSet = function () {
    const tag = this.peekToken();
    if (!this.skipSymbol("set")) this.fail("expected set", tag.lineno, tag.colno);
    const node = new nodes.Set(tag.lineno, tag.colno, []);
    for (let target = this.parsePrimary(); target; target = this.parsePrimary()) {
      node.targets.push(target);
      if (!this.skip("comma")) break;
    }
    if (this.skipValue("operator", "=")) {
      node.value = this.parseExpression();
      this.advanceAfterBlockEnd(tag.value);
      return node;
    }
    let fill = (body: unknown) => {
      node.body = body;
    };
    if (this.skip("pipe")) {
      const filters = parseFilterChain(this, this.parseFilterName());
      node.body = filters.chain;
      fill = filters.fill;
    }
    if (this.peekToken()?.type !== "block-end") {
      this.fail("expected =, | or the end of the set tag", tag.lineno, tag.colno);
    }
    this.advanceAfterBlockEnd(tag.value); // `-%}` strips the body's leading whitespace
    fill(new nodes.Capture(tag.lineno, tag.colno, this.parseUntilBlocks("endset")));
    node.value = null;
    this.advanceAfterBlockEnd();
    const target = node.targets[0];
    if (node.targets.length !== 1 || !(target instanceof nodes.LookupVal)) return node;
    // `{% set ns.attr %}`: the text is captured into a name of its own, then set on the
    // namespace as `{% set ns.attr = ... %}` sets it (through _dbt_setattr).
    const captured = new nodes.Symbol(tag.lineno, tag.colno, "_dbt_block_set");
    node.targets = [captured];
    const setAttr = new nodes.FunCall(
      tag.lineno,
      tag.colno,
      new nodes.Symbol(tag.lineno, tag.colno, "_dbt_setattr"),
      new nodes.NodeList(tag.lineno, tag.colno, [
        target.target,
        new nodes.Literal(tag.lineno, tag.colno, String(target.val.value)),
        captured,
      ]),
    );
    return new nodes.NodeList(tag.lineno, tag.colno, [
      node,
      new nodes.Output(tag.lineno, tag.colno, [setAttr]),
    ]);
  };

  const parseStatement = parserProto.parseStatement;
  parserProto.parseStatement = function () {
    const tag = this.peekToken();
    if (tag?.type !== "symbol" || tag.value !== "with") return parseStatement.call(this);
    this.nextToken();
    const targets: SymbolNode[] = [];
    const values: unknown[] = [];
    while (this.peekToken()?.type !== "block-end") {
      if (targets.length > 0 && !this.skip("comma")) {
        this.fail("expected ',' between the names of a with tag", tag.lineno, tag.colno);
      }
      const target = this.parsePrimary();
      if (!(target instanceof nodes.Symbol)) {
        this.fail("with: expected a name to assign", tag.lineno, tag.colno);
      }
      if (!this.skipValue("operator", "=")) {
        this.fail(`with: expected = after ${target.value}`, tag.lineno, tag.colno);
      }
      targets.push(target);
      values.push(this.parseExpression());
    }
    this.advanceAfterBlockEnd("with");
    const body = this.parseUntilBlocks("endwith");
    this.advanceAfterBlockEnd();
    return new With(tag.lineno, tag.colno, targets, values, body);
  };

  // `{% raw %}` with whitespace control, as Jinja2: `{%- raw -%} x {%- endraw -%}` is `x`
  // with the whitespace around it gone. nunjucks' block search knew no `-`, so an endraw
  // written `{%- endraw %}` was never found ("unknown block tag: endraw" at the end).
  parserProto.parseRaw = function (tagName = "raw") {
    const end = `end${tagName}`;
    const block = new RegExp(`([\\s\\S]*?)\\{%(-?)\\s*(${tagName}|${end})\\s*(-?)%\\}`);
    const begun = this.advanceAfterBlockEnd();
    // The opening tag's `-%}` strips the start of the raw text (not the text after endraw).
    const stripStart = begun.value.startsWith("-");
    this.dropLeadingWhitespace = false;
    let level = 1;
    let text = "";
    for (;;) {
      const found = this.tokens._extractRegex(block);
      if (found === null) return this.fail(`unexpected end of file: no {% ${end} %}`, begun.lineno);
      const [all, before, , name, dashAfter] = found as unknown as string[];
      level += name === tagName ? 1 : -1;
      if (level > 0) {
        text += all;
        continue;
      }
      text += before;
      const dashBefore = found[2] === "-";
      if (stripStart) text = text.replace(/^\s+/, "");
      if (dashBefore) text = text.replace(/\s+$/, "");
      this.dropLeadingWhitespace = dashAfter === "-";
      return new nodes.Output(begun.lineno, begun.colno, [
        new nodes.TemplateData(begun.lineno, begun.colno, text),
      ]);
    }
  };

  compilerProto.compileWith = function (node, frame) {
    // The values see the outer scope, as in Jinja2 (`{% with a = 1, b = a %}`: b is the outer a).
    const ids = node.values.map((value) => {
      const id = this._tmpid();
      this._emit(`var ${id} = `);
      this._compileExpression(value, frame);
      this._emitLine(";");
      return id;
    });
    // A frame that keeps its writes: `{% set %}` inside does not reach the outer names. The
    // compile-time frame starts empty so a set inside gets its own variable rather than
    // reassigning the outer one's; reads of outer names go through the run-time frames.
    this._emitLine("frame = frame.push(true);");
    const inner = new runtime.Frame(undefined, true);
    node.targets.forEach((target, i) => {
      this._emitLine(`frame.set(${JSON.stringify(target.value)}, ${ids[i]});`);
      inner.set(target.value, ids[i] as string);
    });
    this.compile(node.body, inner);
    this._emitLine("frame = frame.pop();");
  };
}
