; Highlights for kiln. Later patterns win in most editors' tree-sitter integrations, so general
; captures come first.

(identifier) @variable

(comment) @comment
(doc_comment) @comment.documentation

(string) @string
(escape_sequence) @string.escape
(regex) @string.regexp
(interpolation
  "${" @punctuation.special
  "}" @punctuation.special)

(number) @number
(unit) @number
(boolean) @boolean

[
  "import"
  "as"
] @keyword.import

[
  "let"
  "type"
] @keyword

"fn" @keyword.function

[
  "if"
  "then"
  "else"
  "match"
] @keyword.conditional

[
  "for"
  "in"
] @keyword.repeat

"with" @keyword.operator

[
  "=" "==" "!=" "<" "<=" ">" ">=" "+" "-" "*" "/" "&&" "||" "!" "->" "=>" "|" ".." "?"
] @operator

["(" ")" "[" "]" "{" "}"] @punctuation.bracket
["," "." ":" ";"] @punctuation.delimiter

(import alias: (identifier) @module)
(let name: (identifier) @variable)
(type_declaration name: (identifier) @type.definition)
(function name: (identifier) @function)
(parameter name: (identifier) @variable.parameter)

(type_name (path (identifier) @type))
(generic_type (path (identifier) @type))
(variant_type tag: (identifier) @constructor)
(variant_pattern tag: (identifier) @constructor)
(wildcard) @variable.builtin

(emit type: (path (identifier) @type))
(emit name: (string) @label)
(construct type: (path (identifier) @type))

(field_declaration name: (identifier) @property)
(entry key: (identifier) @property)
(field_access field: (identifier) @property)
(argument name: (identifier) @variable.parameter)

(call function: (identifier) @function.call)
(call function: (field_access field: (identifier) @function.call))
((call function: (identifier) @function.builtin)
  (#any-of? @function.builtin "len" "range" "keys" "values" "join" "str"))
((type_name (path (identifier) @type.builtin))
  (#any-of? @type.builtin "Int" "Float" "Bool" "String" "Cpu" "Memory" "Quantity" "Duration" "Percent" "Any"))
((generic_type (path (identifier) @type.builtin))
  (#any-of? @type.builtin "List" "Map" "Ref"))
