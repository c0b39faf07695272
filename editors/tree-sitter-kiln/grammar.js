/**
 * tree-sitter grammar for kiln (.kiln specs), for editors' highlighting, folding and outline.
 *
 * It follows the kiln parser (lang/src/parser/) in shape; it is not a second compiler: kiln's
 * own parser decides what a spec means, and this grammar only needs to accept every valid spec
 * without ERROR nodes (a test parses every .kiln file of the repository). Newline rules of the
 * real parser (a call's `(` on the same line, a `-` starting a line begins a new entry) do not
 * change the tree's shape for valid specs, so the grammar leaves them out.
 */

const PREC = {
  lambda: -1,
  with: 1,
  or: 2,
  and: 3,
  compare: 4,
  add: 5,
  mul: 6,
  unary: 7,
  postfix: 8,
};

// Entries separated by newlines, commas or semicolons (a stray leading separator is accepted,
// as by kiln's parser).
const sep = (rule) =>
  seq(optional(choice(',', ';')), optional(seq(rule, repeat(seq(optional(choice(',', ';')), rule)), optional(choice(',', ';')))));
const commaSep = (rule) => optional(seq(rule, repeat(seq(',', rule)), optional(',')));

module.exports = grammar({
  name: 'kiln',

  extras: ($) => [/\s/, $.comment, $.doc_comment],

  word: ($) => $.identifier,

  // See src/scanner.c.
  externals: ($) => [$._line_start_minus, $._error_sentinel],

  conflicts: ($) => [
    [$.path, $._primary],
    [$.parameter, $._primary],
    [$._key, $._primary],
  ],

  rules: {
    source_file: ($) => repeat(seq($._item, optional(';'))),

    _item: ($) => choice($.import, $.let, $.type_declaration, $.function, $.emit),

    doc_comment: (_) => token(prec(2, seq('##', /[^\n]*/))),
    comment: (_) => token(prec(1, seq('#', /[^\n]*/))),

    import: ($) => seq('import', field('path', $.string), 'as', field('alias', $.identifier)),

    let: ($) => seq('let', field('name', $.identifier), optional(seq(':', field('type', $._type))), '=', field('value', $._expression)),

    type_declaration: ($) => seq('type', field('name', $.identifier), '=', field('type', $._type)),

    function: ($) =>
      seq(
        'fn',
        field('name', $.identifier),
        $.parameters,
        optional(seq('->', field('return_type', $._type))),
        '=',
        field('body', $._expression),
      ),

    parameters: ($) => seq('(', commaSep($.parameter), ')'),
    parameter: ($) => seq(field('name', $.identifier), optional(seq(':', field('type', $._type))), optional(seq('=', field('default', $._expression)))),

    // `kf.Notebook "churn-dev" { ... }` or `kf.TrainingJob "churn-ddp" = expr`.
    emit: ($) =>
      seq(
        field('type', $.path),
        field('name', $._emit_name),
        choice(field('body', $.record), seq('=', field('value', $._expression))),
      ),
    _emit_name: ($) => choice($.string, $.identifier, $.parenthesized),

    path: ($) => prec.left(seq($.identifier, repeat(seq('.', $.identifier)))),

    // ----- types -----

    _type: ($) => prec.right(choice($.union_type, $._type_atom)),
    // A union may start with `|` (one variant per line).
    union_type: ($) => prec.right(1, choice(seq($._type_atom, repeat1(seq('|', $._type_atom))), seq('|', $._type_atom, repeat(seq('|', $._type_atom))))),
    _type_atom: ($) =>
      choice(
        $.type_name,
        $.generic_type,
        $.refined_type,
        $.record_type,
        $.variant_type,
        $.literal_type,
        $.function_type,
        seq('(', $._type, ')'),
      ),
    type_name: ($) => $.path,
    generic_type: ($) => seq($.path, '<', commaSep($._type), '>'),
    refined_type: ($) => seq(choice($.type_name, $.generic_type), '(', choice($.range, $.regex), ')'),
    range: ($) => prec.left(choice(seq($._range_bound, '..', optional($._range_bound)), seq('..', $._range_bound))),
    _range_bound: ($) => choice($.number, $.unit, $.negative_number),
    negative_number: ($) => seq(choice('-', alias($._line_start_minus, '-')), choice($.number, $.unit)),
    regex: (_) => token(seq('/', repeat1(choice(/[^/\\\n]/, /\\./)), '/')),
    record_type: ($) => seq('{', sep(choice($.field_declaration, $.rest)), '}'),
    rest: (_) => '..',
    field_declaration: ($) =>
      seq(
        field('name', $._key),
        optional('?'),
        ':',
        field('type', $._type),
        optional(seq('=', field('default', $._expression))),
      ),
    variant_type: ($) => seq(field('tag', $.identifier), $.record_type),
    literal_type: ($) => choice($.string, $.number, $.negative_number, $.boolean),
    function_type: ($) => prec.right(seq('(', commaSep($._type), ')', '->', $._type)),

    // ----- expressions -----

    _expression: ($) => choice($.if, $.match, $.lambda, $.with, $._binary_or_below),

    _binary_or_below: ($) => choice($.binary, $.unary, $._postfix),

    with: ($) => prec.left(PREC.with, seq(field('base', $._expression), 'with', field('patch', $.record))),

    binary: ($) => {
      const table = [
        [PREC.or, '||'],
        [PREC.and, '&&'],
        [PREC.compare, choice('==', '!=', '<', '<=', '>', '>=')],
        [PREC.add, choice('+', '-')],
        [PREC.mul, choice('*', '/')],
      ];
      return choice(
        ...table.map(([p, op]) =>
          prec.left(p, seq(field('left', $._expression), field('operator', op), field('right', $._expression))),
        ),
      );
    },

    unary: ($) => prec(PREC.unary, seq(field('operator', choice('-', '!')), field('operand', $._expression))),

    _postfix: ($) => choice($.call, $.field_access, $.index, $._primary),

    call: ($) => prec(PREC.postfix, seq(field('function', $._postfix), $.arguments)),
    arguments: ($) => seq('(', commaSep($.argument), ')'),
    argument: ($) => seq(optional(seq(field('name', $.identifier), '=')), field('value', $._expression)),
    field_access: ($) => prec(PREC.postfix, seq(field('target', $._postfix), '.', field('field', $.identifier))),
    index: ($) => prec(PREC.postfix, seq(field('target', $._postfix), '[', field('index', $._expression), ']')),

    _primary: ($) =>
      choice(
        $.number,
        $.unit,
        $.boolean,
        $.string,
        $.identifier,
        $.list,
        $.list_comprehension,
        $.record,
        $.record_comprehension,
        $.construct,
        $.parenthesized,
      ),

    parenthesized: ($) => seq('(', $._expression, ')'),

    construct: ($) => prec(PREC.postfix, seq(field('type', $.path), field('body', $.record))),

    list: ($) => seq('[', sep($._expression), ']'),
    list_comprehension: ($) => seq('[', field('body', $._expression), repeat1($._clause), ']'),
    _clause: ($) => choice($.for_clause, $.if_clause),
    for_clause: ($) => seq('for', commaSep1($.identifier), 'in', field('iterable', $._binary_or_below)),
    if_clause: ($) => seq('if', field('condition', $._binary_or_below)),

    record: ($) => seq('{', sep($.entry), '}'),
    entry: ($) => seq(field('key', $._key), '=', field('value', $._expression)),
    record_comprehension: ($) =>
      seq('{', field('key', $._expression), '=', field('value', $._expression), repeat1($._clause), optional(','), '}'),
    _key: ($) => choice($.identifier, alias($._keyword_key, $.identifier), $.string),
    _keyword_key: (_) => choice('type', 'with', 'in', 'as', 'import', 'match', 'fn', 'let', 'for', 'if', 'then', 'else'),

    if: ($) => prec.right(seq('if', field('condition', $._expression), 'then', field('consequence', $._expression), 'else', field('alternative', $._expression))),

    match: ($) => seq('match', field('value', $._expression), '{', sep($.arm), '}'),
    arm: ($) => seq(field('pattern', $._pattern), '=>', field('body', $._expression)),
    _pattern: ($) => choice($.wildcard, $.variant_pattern, $.literal_type),
    wildcard: (_) => '_',
    variant_pattern: ($) => seq(field('tag', $.identifier), optional(field('binding', $.identifier))),

    lambda: ($) => prec.right(PREC.lambda, seq(choice($.identifier, $.lambda_params), '->', field('body', $._expression))),
    lambda_params: ($) => seq('(', commaSep($.parameter), ')'),

    // ----- tokens -----

    identifier: (_) => /[A-Za-z_][A-Za-z0-9_]*/,
    boolean: (_) => choice('true', 'false'),
    number: (_) => token(choice(/[0-9][0-9_]*/, /[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9]+)?/, /[0-9][0-9_]*[eE][+-]?[0-9]+/)),
    // `16Gi`, `500m`, `1.5G`, `30s`, `1h30m`, `1min`, `10%`.
    unit: (_) => token(seq(/[0-9][0-9_]*(\.[0-9]+)?/, choice('%', /[A-Za-z]+([0-9]+[A-Za-z]+)*/))),

    string: ($) => choice($._plain_string, $._multiline_string),
    _plain_string: ($) => seq('"', repeat(choice($.string_content, $.escape_sequence, $.interpolation)), '"'),
    _multiline_string: ($) => seq('"""', repeat(choice($.multiline_content, $.escape_sequence, $.interpolation)), '"""'),
    string_content: (_) => token.immediate(/([^"\\$\n]|\$[^{"\\\n])+/),
    multiline_content: (_) => token.immediate(/([^"\\$]|\$[^{"\\]|"[^"]|""[^"])+/),
    escape_sequence: (_) => token.immediate(seq('\\', choice(/[nrt"\\$]/, /u\{[0-9A-Fa-f]+\}/))),
    interpolation: ($) => seq(token.immediate(prec(2, '${')), $._expression, '}'),
  },
});

function commaSep1(rule) {
  return seq(rule, repeat(seq(',', rule)));
}
