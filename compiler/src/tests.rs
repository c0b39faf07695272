//! Test helpers (one line per test) and the parser-driven tests of the checker and evaluator.

use crate::source::MemoryLoader;
use crate::{Options, compile_with_stdlib};

/// A small fixed standard library, so these tests do not depend on the real one.
const TEST_STDLIB: &[(&str, &str)] = &[(
    "core",
    "## Resources.\ntype Resources = { cpu: Cpu, memory: Memory, gpu: Int(0..) = 0 }\n",
)];

/// Compiles `main.kiln` with the given text (plus extra files).
pub(crate) fn compile_files(files: &[(&str, &str)], options: &Options) -> crate::Compiled {
    let mut loader = MemoryLoader::new();
    for (p, t) in files {
        loader.insert(p, t);
    }
    compile_with_stdlib(&loader, &[files[0].0.to_string()], options, TEST_STDLIB)
}

/// Diagnostics in a plain one-line-per-item form: `K0203 3:5 message` plus `help:` lines.
pub(crate) fn plain(c: &crate::Compiled) -> String {
    let mut out = String::new();
    for d in &c.diagnostics {
        let (l, col) = c
            .sources
            .line_col(d.primary.span.file, d.primary.span.start as usize);
        out.push_str(&format!("{} {}:{} {}\n", d.code.id, l, col, d.message));
        if let Some(h) = &d.help {
            out.push_str(&format!("  help: {h}\n"));
        }
    }
    out
}

pub(crate) fn errors(src: &str) -> String {
    plain(&compile_files(&[("main.kiln", src)], &Options::default()))
}

pub(crate) fn check_ok(src: &str) {
    let e = errors(src);
    assert!(e.is_empty(), "unexpected diagnostics:\n{e}");
}

pub(crate) fn eval(src: &str) -> serde_json::Value {
    let c = compile_files(&[("main.kiln", src)], &Options::default());
    assert!(!c.has_errors(), "unexpected diagnostics:\n{}", plain(&c));
    let mut out = serde_json::Map::new();
    for o in &c.objects {
        out.insert(o.name.clone(), o.value.to_json());
    }
    serde_json::Value::Object(out)
}

#[test]
fn smoke() {
    let v = eval(
        r#"
type Box = { cpu: Cpu, memory: Memory, name: String = "x" }
let base = 2
Box "a" { cpu = base, memory = 1.5Gi }
"#,
    );
    assert_eq!(v.to_string(), r#"{"a":{"cpu":"2","memory":"1536Mi","name":"x"}}"#);
}

/// The value of `let` named `out` in `src`, as JSON (via an emit of an open record type).
fn value_of(src: &str) -> serde_json::Value {
    let full = format!("{src}\ntype Out__ = {{ v: Any }}\nOut__ \"out\" {{ v = out }}\n");
    eval(&full)["out"]["v"].clone()
}

fn v(src: &str) -> String {
    value_of(src).to_string()
}

#[test]
fn units_arithmetic() {
    assert_eq!(v("let out = 8Gi + 512Mi"), r#""8704Mi""#);
    assert_eq!(v("let workers = 4\nlet out = workers * 8Gi"), r#""32Gi""#);
    assert_eq!(v("let out = 3Gi / 2"), r#""1536Mi""#);
    assert_eq!(v("let out = 2h / 30min"), "4.0");
    assert_eq!(v("let out = 90s"), r#""1m30s""#);
    assert_eq!(v("let out = 1h + 30min"), r#""1h30m0s""#);
    assert_eq!(v("let out = 10% + 2.5%"), r#""12.5%""#);
    assert_eq!(v("let out: Cpu = 2 + 500m"), r#""2500m""#);
    assert_eq!(v("let out: Cpu = 0.5"), r#""500m""#);
    assert_eq!(v("let out = 1Gi > 1000Mi"), "true");
    assert_eq!(v("let out: Quantity = 1"), r#""1""#);
}

#[test]
fn unit_errors() {
    let e = errors("let x = 8Gi + 2h");
    assert!(
        e.contains("K0303") && e.contains("cannot add Memory and Duration"),
        "{e}"
    );
    let e = errors("let t: Duration = 5m");
    assert!(e.contains("K0303") && e.contains("write 5min"), "{e}");
    let e = errors("let m: Memory = \"16Gi\"");
    assert!(
        e.contains("K0301") && e.contains("write 16Gi without quotes"),
        "{e}"
    );
    let e = errors("let m: Memory = 16");
    assert!(
        e.contains("K0302") && e.contains("16Gi (binary) or 16G (decimal)"),
        "{e}"
    );
    let e = errors("let m: Memory = 512m");
    assert!(e.contains("K0303") && e.contains("512Mi"), "{e}");
    let e = errors("let c: Cpu = 0.0001");
    assert!(e.contains("K0304"), "{e}");
    let e = errors("let x = 1Gi * 2Gi");
    assert!(e.contains("K0303"), "{e}");
}

#[test]
fn records_closed_and_defaults() {
    let src = r#"
type Nb = { image: String, cpu: Cpu = 1, memory?: Memory, labels: Map<String> = {} }
Nb "a" { image = "x", memroy = 1Gi }
"#;
    let e = errors(src);
    assert!(
        e.contains("K0203 3:23 unknown field `memroy` in Nb") && e.contains("did you mean `memory`?"),
        "{e}"
    );
    let e = errors("type Nb = { image: String, cpu: Cpu }\nNb \"a\" { cpu = 1 }");
    assert!(
        e.contains("K0204") && e.contains("missing field `image` in Nb"),
        "{e}"
    );
    let out = eval("type Nb = { image: String, cpu: Cpu = 1, memory?: Memory }\nNb \"a\" { image = \"x\" }");
    assert_eq!(out["a"].to_string(), r#"{"image":"x","cpu":"1"}"#);
}

#[test]
fn sibling_references_and_cycles() {
    assert_eq!(v("let out = { b = a + 1, a = 1 }"), r#"{"b":2,"a":1}"#);
    assert_eq!(
        v("let namespace = \"outer\"\nlet out = { namespace = namespace }"),
        r#"{"namespace":"outer"}"#
    );
    assert_eq!(
        v("let out = { steps = { prep = { out = \"d\" }, train = { input = steps.prep.out } } }"),
        r#"{"steps":{"prep":{"out":"d"},"train":{"input":"d"}}}"#
    );
    let e = errors("let r = { a = b + 1, b = a + 1 }");
    assert!(e.contains("K0105") && e.contains("a -> b -> a"), "{e}");
}

#[test]
fn with_merges_deeply() {
    let src = r#"
type Res = { cpu: Cpu, memory: Memory }
type Job = { name: String, res: Res, args: List<String> = [], labels: Map<String> = {} }
let base = Job { name = "a", res = { cpu = 1, memory = 1Gi }, args = ["x"], labels = { a = "1" } }
let out = base with { res = { memory = 2Gi }, args = ["y"], labels = { b = "2" } }
"#;
    assert_eq!(
        v(src),
        r#"{"name":"a","res":{"cpu":"1","memory":"2Gi"},"args":["y"],"labels":{"a":"1","b":"2"}}"#
    );
    let e = errors("let b = { a = 1 }\nlet c = b with { x = 2 }");
    assert!(e.contains("K0203"), "{e}");
}

#[test]
fn comprehensions() {
    assert_eq!(v("let out = [x * 2 for x in [1, 2, 3] if x != 2]"), "[2,6]");
    assert_eq!(
        v("let out = [\"${i}:${x}\" for i, x in [\"a\", \"b\"]]"),
        r#"["0:a","1:b"]"#
    );
    assert_eq!(
        v("let m: Map<Int> = { a = 1, b = 2 }\nlet out = { \"${k}2\" = v * 10 for k, v in m if v > 1 }"),
        r#"{"b2":20}"#
    );
    assert_eq!(
        v("let out = [[x, y] for x in range(2) for y in range(1, 3)]"),
        "[[0,1],[0,2],[1,1],[1,2]]"
    );
    assert_eq!(
        v("let out = { \"M_${k}\" = v for k, v in { URI = \"u\", SIZE = \"l\" } }"),
        r#"{"M_URI":"u","M_SIZE":"l"}"#
    );
    assert_eq!(
        v("let env = { a = \"1\" }\nlet out: Map<String> = env"),
        r#"{"a":"1"}"#
    );
    let e = errors("let out = [x for x in 3]");
    assert!(e.contains("K0201") && e.contains("cannot iterate"), "{e}");
}

#[test]
fn functions_and_lambdas() {
    assert_eq!(
        v("fn add(a: Int, b: Int = 10) -> Int = a + b\nlet out = [add(1), add(1, 2), add(b = 5, a = 1)]"),
        "[11,3,6]"
    );
    assert_eq!(
        v("fn twice(f: (Int) -> Int, x: Int) -> Int = f(f(x))\nlet out = twice(n -> n * 3, 2)"),
        "18"
    );
    assert_eq!(v("let k = 5\nlet f = (x: Int) -> x + k\nlet out = f(1)"), "6");
    let e = errors("fn f(n: Int) -> Int = g(n)\nfn g(n: Int) -> Int = f(n)");
    assert!(e.contains("K0106") && e.contains("f -> g -> f"), "{e}");
    let e = errors("let a = b\nlet b = a");
    assert!(e.contains("K0106"), "{e}");
    let e = errors("fn f(a: Int) -> Int = a\nlet x = f(1, 2)\nlet y = f(b = 1)");
    assert!(e.matches("K0202").count() >= 2, "{e}");
    let e = errors("let f = x -> x");
    assert!(e.contains("K0207"), "{e}");
}

#[test]
fn tagged_unions_and_match() {
    let src = r#"
type Storage = S3 { bucket: String } | Pvc { claim: String, size: Memory = 10Gi }
fn describe(s: Storage) -> String = match s {
  S3 b => "s3://${b.bucket}"
  Pvc p => "pvc:${p.claim}:${p.size}"
}
let out = [describe(Storage.S3 { bucket = "x" }), describe(Storage.Pvc { claim = "c" })]
"#;
    assert_eq!(v(src), r#"["s3://x","pvc:c:10Gi"]"#);
    assert_eq!(
        v(
            "type Storage = S3 { bucket: String } | Pvc { claim: String }\nlet out: Storage = S3 { bucket = \"b\" }"
        ),
        r#"{"S3":{"bucket":"b"}}"#
    );
    let e = errors(
        "type Storage = S3 { bucket: String } | Pvc { claim: String }\nfn f(s: Storage) -> Int = match s {\n  S3 b => 1\n}",
    );
    assert!(e.contains("K0209") && e.contains("`Pvc`"), "{e}");
    let e = errors("type Fw = \"pytorch\" | \"tensorflow\"\nlet f: Fw = \"pytorh\"");
    assert!(
        e.contains("K0205") && e.contains("did you mean \"pytorch\"?"),
        "{e}"
    );
    assert_eq!(
        v("type Fw = \"a\" | \"b\"\nlet f: Fw = \"b\"\nlet out = match f { \"a\" => 1, \"b\" => 2 }"),
        "2"
    );
}

#[test]
fn refinements() {
    let e = errors("let x: Int(1..10) = 11");
    assert!(e.contains("K0206") && e.contains("above the maximum 10"), "{e}");
    let e = errors("let x: String(/^[a-z]+$/) = \"aB\"");
    assert!(e.contains("K0206"), "{e}");
    let e = errors("let x: Memory(1Gi..) = 512Mi");
    assert!(e.contains("K0206"), "{e}");
    check_ok("let x: Memory(1Gi..) = 2Gi\nlet n: List<Int>(1..2) = [1]");
    let c = compile_files(
        &[(
            "main.kiln",
            "type T = { n: Int(1..10) }\nlet a = 5\nT \"t\" { n = a * 3 }",
        )],
        &Options::default(),
    );
    assert!(plain(&c).contains("K0603"), "{}", plain(&c));
}

#[test]
fn names_and_did_you_mean() {
    let e = errors("let registry = \"r\"\nlet image = \"${regsitry}/x\"");
    assert!(
        e.contains("K0101") && e.contains("did you mean `registry`?"),
        "{e}"
    );
    let e = errors("let x = 1\nlet x = 2");
    assert!(e.contains("K0104"), "{e}");
    // One type and name twice is not a language error: the objects may live in two namespaces.
    // The build stage checks object identity (K0702, see build.rs tests).
    let e = errors("type T = { a: Int }\nT \"n\" { a = 1 }\nT \"n\" { a = 2 }");
    assert!(!e.contains("K0104"), "{e}");
}

#[test]
fn imports() {
    let files = [
        (
            "team/main.kiln",
            "import \"./lib/common.kiln\" as common\nimport \"core\" as core\nlet out = common.base + 1\ntype O = { v: Int, r: core.Resources }\nO \"o\" { v = out, r = { cpu = 1, memory = 1Gi } }",
        ),
        (
            "team/lib/common.kiln",
            "let base = 41\ntype Hidden = { a: Int }\nHidden \"not-output\" { a = 1 }",
        ),
    ];
    let c = compile_files(&files, &Options::default());
    assert!(!c.has_errors(), "{}", plain(&c));
    assert_eq!(c.objects.len(), 1);
    assert_eq!(c.objects[0].ty, "main.O");
    assert_eq!(
        c.objects[0].value.to_json().to_string(),
        r#"{"v":42,"r":{"cpu":"1","memory":"1Gi","gpu":0}}"#
    );
    let c = compile_files(
        &[
            ("a.kiln", "import \"./b.kiln\" as b"),
            ("b.kiln", "import \"./a.kiln\" as a"),
        ],
        &Options::default(),
    );
    assert!(
        plain(&c).contains("K0103 1:8 import cycle: a.kiln -> b.kiln -> a.kiln"),
        "{}",
        plain(&c)
    );
    let e = errors("import \"kore\" as k");
    assert!(e.contains("K0102") && e.contains("did you mean `core`?"), "{e}");
    let e = errors("import \"./nope.kiln\" as n");
    assert!(e.contains("K0102"), "{e}");
}

#[test]
fn budget_stops_hostile_specs() {
    let src = "let big = [x * y for x in range(1000000) for y in range(1000000)]\ntype O = { n: Int }\nO \"o\" { n = len(big) }";
    let options = Options {
        budget: crate::Budget {
            max_steps: 2_000_000,
            ..crate::Budget::default()
        },
    };
    let start = std::time::Instant::now();
    let c = compile_files(&[("main.kiln", src)], &options);
    assert!(plain(&c).contains("K0601"), "{}", plain(&c));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    let e = plain(&compile_files(
        &[(
            "main.kiln",
            "let a = 9223372036854775807\ntype O = { n: Int }\nO \"o\" { n = a + 1 }",
        )],
        &Options::default(),
    ));
    assert!(e.contains("K0602"), "{e}");
}

#[test]
fn several_errors_without_cascades() {
    let e = errors("let a: Int = \"x\"\nlet b = a + 1\nlet c = nope\nlet d: Bool = 3");
    assert_eq!(e.matches('\n').count() - e.matches("help:").count(), 3, "{e}");
}

/// A small typed pipeline for the reference tests: `STEPS` is replaced by the steps.
fn pipeline(steps: &str) -> String {
    format!(
        r#"
type Out = {{ kind: String = "Dataset" }}
type In = {{ from?: Ref<Out> }}
type Step = {{ inputs: Map<In> = {{}}, outputs: Map<Out> = {{}} }}
type P = {{ params: Map<Out> = {{}}, steps: Map<Step> }}
P "p" {{
  steps = {{
{steps}
  }}
}}
"#
    )
}

#[test]
fn references_are_checked_paths_that_become_their_text() {
    let src = pipeline(
        "    b = { inputs = { x = { from = steps.a.outputs[\"my-data\"] } } }\n    a = { outputs = { \"my-data\" = {} } }",
    );
    // A reference is not evaluated, so naming a later step is fine and makes no cycle.
    assert_eq!(
        eval(&src)["p"]["steps"]["b"]["inputs"]["x"].to_string(),
        r#"{"from":"steps.a.outputs.my-data"}"#
    );
    let e = errors(&pipeline(
        "    a = { inputs = { x = { from = steps.b.outputs.o } }, outputs = { o = {} } }\n    b = { inputs = { x = { from = steps.a.outputs.o } }, outputs = { o = {} } }",
    ));
    assert!(
        e.is_empty(),
        "steps reading each other is a pipeline cycle, not a checker one: {e}"
    );
}

#[test]
fn reference_typos_are_compile_errors_with_did_you_mean() {
    let e = errors(&pipeline(
        "    prep = { outputs = { data = {} } }\n    train = { inputs = { x = { from = steps.perp.outputs.data } } }",
    ));
    assert!(
        e.starts_with("K0108") && e.contains("`steps` has no entry `perp`"),
        "{e}"
    );
    assert!(e.contains("did you mean `prep`?"), "{e}");
    let e = errors(&pipeline(
        "    prep = { outputs = { data = {} } }\n    train = { inputs = { x = { from = steps.prep.outputs.dta } } }",
    ));
    assert!(
        e.contains("`steps.prep.outputs` has no entry `dta`") && e.contains("`data`"),
        "{e}"
    );
    let e = errors(&pipeline(
        "    prep = { outputs = { data = {} } }\n    train = { inputs = { x = { from = steps.prep.output.data } } }",
    ));
    assert!(
        e.starts_with("K0203") && e.contains("did you mean `outputs`?"),
        "{e}"
    );
    // The path must end at the type the reference asks for.
    let e = errors(&pipeline(
        "    prep = { outputs = { data = {} } }\n    train = { inputs = { x = { from = steps.prep } } }",
    ));
    assert!(
        e.starts_with("K0201") && e.contains("`steps.prep` is a Step record, not an Out record"),
        "{e}"
    );
}

#[test]
fn references_are_names_not_strings_nor_lets() {
    let e = errors(&pipeline(
        "    prep = { outputs = { data = {} } }\n    train = { inputs = { x = { from = \"steps.prep.outputs.data\" } } }",
    ));
    assert!(
        e.starts_with("K0109") && e.contains("write steps.prep.outputs.data without quotes"),
        "{e}"
    );
    let e = errors(&format!(
        "let out = 1\n{}",
        pipeline("    train = { inputs = { x = { from = out } } }")
    ));
    assert!(
        e.starts_with("K0109") && e.contains("top-level definition"),
        "{e}"
    );
    let e = errors(&pipeline("    train = { inputs = { x = { from = stepz.a } } }"));
    assert!(
        e.starts_with("K0108")
            && e.contains("unknown reference `stepz`")
            && e.contains("did you mean `steps`?"),
        "{e}"
    );
}

#[test]
fn references_pass_through_functions_typed_ref() {
    let src = format!(
        "fn bind(r: Ref<Out>) -> In = {{ from = r }}\nfn plain(r: Out) -> In = {{ from = r }}\n{}",
        pipeline("    a = { outputs = { o = {} } }\n    b = { inputs = { x = bind(steps.a.outputs.o) } }")
    );
    let e = errors(&src);
    assert!(
        e.starts_with("K0109") && e.contains("declare the parameter as Ref<Out>"),
        "{e}"
    );
    let src = src.replace("fn plain(r: Out) -> In = { from = r }\n", "");
    assert_eq!(
        eval(&src)["p"]["steps"]["b"]["inputs"]["x"]["from"],
        "steps.a.outputs.o"
    );
}

#[test]
fn references_resolve_in_the_innermost_record_that_has_the_path() {
    let src = |after: &str| {
        format!(
            "type S = {{ after: List<Ref<Any>> = [] }}\ntype T = {{ steps: Map<S> = {{}} }}\n\
             type P = {{ steps: Map<S> = {{}}, templates: Map<T> = {{}} }}\n\
             P \"p\" {{\n  steps = {{ outer = {{}} }}\n  templates = {{ t = {{ steps = {{ inner = {{}}, y = {{ after = [{after}] }} }} }} }}\n}}\n"
        )
    };
    // A template's steps name each other, although the pipeline has a `steps` field too.
    assert_eq!(
        eval(&src("steps.inner"))["p"]["templates"]["t"]["steps"]["y"]["after"],
        serde_json::json!(["steps.inner"])
    );
    // When no enclosing record has the path, the innermost one's names are suggested.
    let e = errors(&src("steps.iner"));
    assert!(
        e.starts_with("K0108") && e.contains("did you mean `inner`?"),
        "{e}"
    );
    // The field being defined is not a reference to itself.
    let e = errors("fn f(group: String) -> { group?: Ref<Any> } = { group = group }");
    assert!(
        e.starts_with("K0109") && e.contains("declare the parameter as Ref<Any>"),
        "{e}"
    );
}

#[test]
fn a_bare_tag_of_the_expected_union_wins_over_a_built_in_type_name() {
    let src = "type P = | Float { default?: Float } | Int { default?: Int }\ntype Q = { params: Map<P> }\nQ \"q\" { params = { lr = Float { default = 1 }, n = Int { default = 2 } } }\n";
    assert_eq!(
        eval(src)["q"]["params"].to_string(),
        r#"{"lr":{"Float":{"default":1.0}},"n":{"Int":{"default":2}}}"#
    );
    // Elsewhere `Float` is still the built-in type.
    let e = errors("let x = Float { default = 1 }");
    assert!(e.starts_with("K0201"), "{e}");
}

#[test]
fn references_through_lets_that_name_each_other_stop() {
    // Found while writing reference following: lets in a cycle must stay a K0106, not a crash.
    for lets in [
        "let a = b\nlet b = a\n",
        "let a = b with { x = 1 }\nlet b = a with { y = 2 }\n",
    ] {
        let e = errors(&format!(
            "{lets}type P = {{ s: Map<Int> = {{}}, r?: Ref<Any> }}\nP \"p\" {{ s = a, r = s.x }}\n"
        ));
        assert!(e.contains("K0106"), "{e}");
    }
}
