//! The bodies of the fuzz targets, and the program generator of `check_eval`.
//!
//! `check_eval` runs the whole compiler, not only the parser: load, check, evaluate under a
//! [`kiln_compiler::Budget`], lower and validate identities, write YAML and JSON, and render
//! every diagnostic both ways. Random bytes rarely get past the parser, so most inputs are read
//! as choices of a small kiln grammar ([`Gen`]): well-formed lets, functions, types and emits
//! whose names refer to each other, with comprehensions, strings and nesting that push on the
//! budget. An input whose first byte is 0 is taken as source text instead (the seed corpus is
//! the repository's examples, prefixed with that byte).
//!
//! What must hold for every input (a panic is a finding): no panic anywhere; an error means no
//! objects; every code is registered; a rendered diagnostic stays small whatever the input
//! (long lines are cut, quoted values are clipped).

use arbitrary::{Result, Unstructured};
use kiln_compiler::source::MemoryLoader;
use kiln_compiler::{Budget, Options, build, render};

/// The budget of a fuzz run: the real limits' kinds, smaller, so an execution takes
/// milliseconds; exceeding it is K0601/K0606 like in a real run.
pub fn budget() -> Budget {
    Budget {
        max_steps: 2_000_000,
        max_output_values: 200_000,
        max_source_bytes: 1 << 20,
        max_alloc_bytes: 16 << 20,
        max_output_bytes: 4 << 20,
        max_eval_depth: 2_000,
    }
}

/// Largest rendering of one diagnostic the renderer may produce (bytes): a few cut lines of
/// source, clipped messages and labels. Anything larger echoes the input.
const MAX_RENDERED_BYTES: usize = 16 * 1024;

/// The `check_eval` target: source from `data` (generated or as text), then every stage.
pub fn check_eval(data: &[u8]) {
    let (main, lib) = match data.split_first() {
        Some((0, text)) => match std::str::from_utf8(text) {
            Ok(text) => (text.to_string(), None),
            Err(_) => return,
        },
        _ => {
            let mut u = Unstructured::new(data);
            match Gen::default().program(&mut u) {
                Ok(files) => files,
                Err(_) => return,
            }
        }
    };
    compile_all(&main, lib.as_deref());
}

/// Compiles `main.kiln` (and `lib.kiln`, which it may import) through every stage and checks
/// the invariants. Public so a finding can be replayed on a plain source in a unit test.
pub fn compile_all(main: &str, lib: Option<&str>) {
    let mut loader = MemoryLoader::new();
    loader.insert("main.kiln", main);
    if let Some(lib) = lib {
        loader.insert("lib.kiln", lib);
    }
    let options = Options { budget: budget() };
    let compiled = kiln_compiler::compile(&loader, &["main.kiln".to_string()], &options);
    if compiled.has_errors() {
        assert!(compiled.objects.is_empty(), "objects despite errors");
    }
    let mut diagnostics = compiled.diagnostics.clone();
    if !compiled.has_errors() {
        for object in &compiled.objects {
            std::hint::black_box(object.value.to_json());
        }
        diagnostics.extend(build::check(&compiled, None));
        let built = build::build(&compiled, None);
        if !built.has_errors() {
            std::hint::black_box(kiln_compiler::manifest::canonical::to_yaml(&built.manifests));
            std::hint::black_box(kiln_compiler::manifest::canonical::to_json(&built.manifests));
        }
    }
    let registry = kiln_compiler::codes::registry();
    for d in &diagnostics {
        assert!(
            registry.iter().any(|c| c.id == d.code.id),
            "unregistered code {}",
            d.code.id
        );
        assert!(d.code.id != "K0001" || !d.message.is_empty());
        assert!(
            d.code.id != kiln_compiler::codes::INTERNAL.id,
            "internal error: {}",
            d.message
        );
        let one = std::slice::from_ref(d);
        let text = render::render_plain(one, &compiled.sources, 100);
        assert!(
            text.len() <= MAX_RENDERED_BYTES,
            "{} renders to {} bytes",
            d.code.id,
            text.len()
        );
        let json = render::render_json(one, &compiled.sources);
        assert!(
            json.len() <= 2 * MAX_RENDERED_BYTES,
            "{} renders to {} bytes of JSON",
            d.code.id,
            json.len()
        );
    }
}

/// Generates kiln programs from fuzzer bytes. Names come from small pools so that references
/// resolve (or nearly: a wrong name is a K0101 worth having too).
#[derive(Default)]
pub struct Gen {
    lets: usize,
    fns: Vec<usize>,
    types: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 6;

impl Gen {
    /// `main.kiln`, and maybe `lib.kiln` that it imports.
    pub fn program(&mut self, u: &mut Unstructured) -> Result<(String, Option<String>)> {
        let lib = if u.ratio(1, 4)? {
            let mut lib_gen = Gen::default();
            Some(lib_gen.items(u, 4)?)
        } else {
            None
        };
        let mut main = String::from("import \"kubeflow\" as kf\n");
        if lib.is_some() {
            main.push_str("import \"./lib.kiln\" as lib\n");
        }
        main.push_str(&self.items(u, 24)?);
        Ok((main, lib))
    }

    fn items(&mut self, u: &mut Unstructured, max: usize) -> Result<String> {
        let mut out = String::new();
        let n = u.int_in_range(1..=max)?;
        for _ in 0..n {
            match u.int_in_range(0..=9)? {
                0..=3 => {
                    let value = self.expr(u)?;
                    out.push_str(&format!("let v{} = {value}\n", self.lets));
                    self.lets += 1;
                }
                4 => {
                    let ty = self.ty(u)?;
                    let value = self.expr(u)?;
                    out.push_str(&format!("let v{}: {ty} = {value}\n", self.lets));
                    self.lets += 1;
                }
                5 => {
                    let id = self.fns.len();
                    let arity = u.int_in_range(0..=2)?;
                    let params: Vec<String> = (0..arity).map(|i| format!("p{i}: Int")).collect();
                    let body = self.expr(u)?;
                    out.push_str(&format!("fn f{id}({}) -> Int = {body}\n", params.join(", ")));
                    self.fns.push(arity);
                }
                6 => {
                    let ty = self.record_ty(u)?;
                    out.push_str(&format!("type T{} = {ty}\n", self.types));
                    self.types += 1;
                }
                7 => {
                    let name = self.name(u)?;
                    let data = self.expr(u)?;
                    out.push_str(&format!(
                        "kf.Object {name} {{\n  api_version = \"v1\"\n  kind = \"ConfigMap\"\n  namespace = \"team\"\n  data = {data}\n}}\n"
                    ));
                }
                8 => {
                    let name = self.name(u)?;
                    let data = self.expr(u)?;
                    out.push_str(&format!(
                        "kf.Object {name} = kf.config_map({data}) with {{ namespace = \"a\" }}\n"
                    ));
                }
                _ => {
                    let ty = if self.types > 0 && u.arbitrary()? {
                        format!("T{}", u.choose_index(self.types)?)
                    } else {
                        "{ v: Any }".to_string()
                    };
                    out.push_str(&format!("type Out{} = {ty}\n", self.types));
                    let name = self.name(u)?;
                    let value = self.expr(u)?;
                    out.push_str(&format!("Out{} {name} {{ v = {value} }}\n", self.types));
                    self.types += 1;
                }
            }
        }
        Ok(out)
    }

    fn name(&mut self, u: &mut Unstructured) -> Result<String> {
        Ok(match u.int_in_range(0..=3)? {
            0 => "\"o\"".to_string(),
            1 => format!("\"o-{}\"", u.int_in_range(0..=9u8)?),
            2 => format!("\"${{str({})}}\"", self.expr(u)?),
            _ => self.string(u)?,
        })
    }

    fn string(&mut self, u: &mut Unstructured) -> Result<String> {
        const WORDS: &[&str] = &["a", "team", "x-1", "Ünï", "${", "\\n", "\\\"", "é", "/", " "];
        let mut s = String::from("\"");
        for _ in 0..u.int_in_range(0..=4)? {
            if u.ratio(1, 5)? && self.depth < MAX_DEPTH {
                self.depth += 1;
                let inner = self.expr(u)?;
                self.depth -= 1;
                s.push_str(&format!("${{{inner}}}"));
            } else {
                s.push_str(u.choose(WORDS)?);
            }
        }
        s.push('"');
        Ok(s)
    }

    fn ty(&mut self, u: &mut Unstructured) -> Result<String> {
        Ok(match u.int_in_range(0..=9)? {
            0 => "Int".into(),
            1 => "String".into(),
            2 => "Bool".into(),
            3 => "Float".into(),
            4 => "Memory".into(),
            5 => "List<Int>".into(),
            6 => "Map<String>".into(),
            7 => format!("Int({}..{})", u.int_in_range(-3..=3i8)?, u.int_in_range(0..=9i8)?),
            8 => "String(/^[a-z]+$/)".into(),
            _ if self.types > 0 => format!("T{}", u.choose_index(self.types)?),
            _ => "Any".into(),
        })
    }

    fn record_ty(&mut self, u: &mut Unstructured) -> Result<String> {
        let mut fields = Vec::new();
        for i in 0..u.int_in_range(1..=3)? {
            let ty = self.ty(u)?;
            let field = match u.int_in_range(0..=2)? {
                0 => format!("x{i}: {ty}"),
                1 => format!("x{i}?: {ty}"),
                _ => {
                    let default = self.expr(u)?;
                    format!("x{i}: {ty} = {default}")
                }
            };
            fields.push(field);
        }
        let open = if u.ratio(1, 4)? { ", .." } else { "" };
        Ok(format!("{{ {}{open} }}", fields.join(", ")))
    }

    fn expr(&mut self, u: &mut Unstructured) -> Result<String> {
        if self.depth >= MAX_DEPTH {
            return self.atom(u);
        }
        self.depth += 1;
        let e = self.compound(u);
        self.depth -= 1;
        e
    }

    fn atom(&mut self, u: &mut Unstructured) -> Result<String> {
        Ok(match u.int_in_range(0..=8)? {
            0 => u.int_in_range(-2..=1_000_000i64)?.to_string(),
            1 => format!("{}.5", u.int_in_range(0..=99u8)?),
            2 => u.choose(&["true", "false"])?.to_string(),
            3 => u
                .choose(&["16Gi", "500m", "30s", "10%", "1.5G", "2"])?
                .to_string(),
            4 if self.lets > 0 => format!("v{}", u.choose_index(self.lets)?),
            5 => u.choose(&["p0", "p1", "lib.v0", "kf.nope", "zz"])?.to_string(),
            6 => "[]".into(),
            7 => "{}".into(),
            _ => self.string(u)?,
        })
    }

    fn compound(&mut self, u: &mut Unstructured) -> Result<String> {
        Ok(match u.int_in_range(0..=19)? {
            0 => {
                let op = u.choose(&["+", "-", "*", "/", "==", "<", "&&", "||"])?;
                format!("{} {op} {}", self.expr(u)?, self.expr(u)?)
            }
            1 => {
                let items: Vec<String> = (0..u.int_in_range(0..=4)?)
                    .map(|_| self.expr(u))
                    .collect::<Result<_>>()?;
                format!("[{}]", items.join(", "))
            }
            2 => {
                let mut entries = Vec::new();
                for i in 0..u.int_in_range(0..=4)? {
                    let key = if u.ratio(1, 3)? {
                        format!("\"k.{i}/x\"")
                    } else {
                        format!("x{i}")
                    };
                    entries.push(format!("{key} = {}", self.expr(u)?));
                }
                format!("{{ {} }}", entries.join(", "))
            }
            3 => format!(
                "[{} for i in range({}){}]",
                self.expr(u)?,
                self.count(u)?,
                if u.arbitrary()? { " if i > 1" } else { "" }
            ),
            4 => format!(
                "{{ \"k${{i}}\" = {} for i in range({}) }}",
                self.expr(u)?,
                self.count(u)?
            ),
            5 => format!(
                "join([{} for i in range({})], \"\")",
                self.string(u)?,
                self.count(u)?
            ),
            6 => format!("len({})", self.expr(u)?),
            7 => format!("str({})", self.expr(u)?),
            8 => format!("keys({})", self.expr(u)?),
            9 => format!(
                "if {} then {} else {}",
                self.expr(u)?,
                self.expr(u)?,
                self.expr(u)?
            ),
            10 => format!(
                "match {} {{ \"a\" => {}, 1 => {}, _ => {} }}",
                self.expr(u)?,
                self.expr(u)?,
                self.expr(u)?,
                self.expr(u)?
            ),
            11 => format!("{} with {{ x0 = {} }}", self.expr(u)?, self.expr(u)?),
            12 => format!("({})[{}]", self.expr(u)?, self.expr(u)?),
            13 => format!("({}).x0", self.expr(u)?),
            14 if !self.fns.is_empty() => {
                let id = u.choose_index(self.fns.len())?;
                let args: Vec<String> = (0..self.fns[id]).map(|_| self.expr(u)).collect::<Result<_>>()?;
                format!("f{id}({})", args.join(", "))
            }
            15 if self.types > 0 => {
                let t = u.choose_index(self.types)?;
                format!("T{t} {{ x0 = {} }}", self.expr(u)?)
            }
            16 => format!("-({})", self.expr(u)?),
            17 => format!("values({})", self.expr(u)?),
            18 => {
                // A doubling chain: the budget has to stop it, not the memory.
                let mut s = self.expr(u)?;
                for _ in 0..u.int_in_range(1..=30)? {
                    s = format!("[{s}, {s}]");
                    if s.len() > 4096 {
                        break;
                    }
                }
                s
            }
            _ => self.atom(u)?,
        })
    }

    /// A comprehension length: mostly small, sometimes large enough to reach the budget.
    fn count(&mut self, u: &mut Unstructured) -> Result<String> {
        Ok(match u.int_in_range(0..=5)? {
            0..=3 => u.int_in_range(0..=5u32)?.to_string(),
            4 => u.int_in_range(0..=100_000u32)?.to_string(),
            _ => self.expr(u)?,
        })
    }
}
