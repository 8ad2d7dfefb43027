//! Config fuzzing (#18): the reference `config/trader.yaml`, mutated with a fixed seed, run
//! through `preflight` on the sample data under a timeout.
//!
//! Every run must end (no hang) without a panic. Mutations that make the file nonsense by
//! construction (a number or boolean turned into text, a loose boolean, a non-finite number,
//! an unknown key) must be refused with exit 2 by a message naming the file and the key path.
//! Blind mutations (a flipped character, a line dropped or repeated, an indent shifted) may
//! leave a valid file; those only have to end cleanly, and a refusal must name the file.
//! `TRADER_FUZZ_CASES` sets the count (default 120).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        let mut s = self.0;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        self.0 = s;
        (s % n as u64) as usize
    }
}

/// One line of the reference file that holds a `key: value` pair.
struct Entry {
    line: usize,
    path: String,
    value: String,
}

/// Dotted key paths of block-style `key: value` lines (list items and flow maps skipped).
fn entries(lines: &[String]) -> Vec<Entry> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut out = Vec::new();
    for (n, raw) in lines.iter().enumerate() {
        let code = raw.split(" #").next().unwrap_or("");
        if code.trim().is_empty() || code.trim_start().starts_with('#') {
            continue;
        }
        let indent = code.len() - code.trim_start().len();
        let Some((key, value)) = code.trim().split_once(':') else {
            continue;
        };
        if key.starts_with('-') || key.contains(' ') {
            continue;
        }
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_string()));
        let path = stack
            .iter()
            .map(|(_, k)| k.as_str())
            .collect::<Vec<_>>()
            .join(".");
        out.push(Entry {
            line: n,
            path,
            value: value.trim().to_string(),
        });
    }
    out
}

fn is_number(v: &str) -> bool {
    v.parse::<f64>().is_ok()
}

enum Expect {
    /// Exit 2, naming the file and this key path.
    Refused(String),
    /// Any clean ending; a refusal names the file.
    Clean,
}

/// Apply one mutation; returns the new lines and what the run must do.
fn mutate(rng: &mut XorShift, lines: &[String], entries: &[Entry]) -> (Vec<String>, Expect) {
    let mut out = lines.to_vec();
    let typed: Vec<&Entry> = entries
        .iter()
        .filter(|e| is_number(&e.value) || e.value == "true" || e.value == "false")
        .collect();
    let e = typed[rng.below(typed.len())];
    let indent = " ".repeat(lines[e.line].len() - lines[e.line].trim_start().len());
    let key = e.path.rsplit('.').next().unwrap_or_default();
    let set = |out: &mut Vec<String>, v: &str| out[e.line] = format!("{indent}{key}: {v}");
    match rng.below(8) {
        0 => {
            set(&mut out, "\"zz-not-a-value\"");
            (out, Expect::Refused(e.path.clone()))
        }
        1 => {
            let v = if is_number(&e.value) {
                format!("\"{}\"", e.value)
            } else {
                ["\"true\"", "yes", "on", "1"][rng.below(4)].to_string()
            };
            set(&mut out, &v);
            (out, Expect::Refused(e.path.clone()))
        }
        2 => {
            set(&mut out, [".nan", ".inf", "-.inf"][rng.below(3)]);
            (out, Expect::Refused(e.path.clone()))
        }
        3 => {
            // After a leaf (`key: value`), so the new key is a sibling, not a parent's child.
            let leaves: Vec<&Entry> = entries.iter().filter(|x| !x.value.is_empty()).collect();
            let at = leaves[rng.below(leaves.len())].line;
            let indent = " ".repeat(lines[at].len() - lines[at].trim_start().len());
            let parent = entries
                .iter()
                .find(|x| x.line == at)
                .map(|x| x.path.rsplit_once('.').map(|(p, _)| p.to_string()))
                .unwrap_or_default();
            out.insert(at + 1, format!("{indent}zz_unknown_key: 1"));
            let path = match parent {
                Some(p) => format!("{p}.zz_unknown_key"),
                None => "zz_unknown_key".to_string(),
            };
            (out, Expect::Refused(path))
        }
        4 => {
            let n = rng.below(out.len());
            out.remove(n);
            (out, Expect::Clean)
        }
        5 => {
            let n = rng.below(out.len());
            let dup = out[n].clone();
            out.insert(n, dup);
            (out, Expect::Clean)
        }
        6 => {
            let n = rng.below(out.len());
            let l = &mut out[n];
            if !l.is_empty() {
                let at = rng.below(l.len());
                let junk = ['{', ']', ':', '"', '\t', '&', '*', '!', '%', '9'][rng.below(10)];
                if l.is_char_boundary(at) {
                    l.insert(at, junk);
                }
            }
            (out, Expect::Clean)
        }
        _ => {
            let n = rng.below(out.len());
            out[n] = format!("   {}", out[n]);
            (out, Expect::Clean)
        }
    }
}

/// Runs `trader --config CFG preflight` with a deadline; `None` on a hang.
fn run(cfg: &Path) -> Option<(i32, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trader"))
        .arg("--config")
        .arg(cfg)
        .args(["preflight", "--date", "2026-05-01"])
        .env("TRADER_NOW", "2026-05-01T19:50:00Z")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn trader");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return Some((status.code().unwrap_or(-1), err));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn mutated_reference_configs_are_refused_clearly_or_run_cleanly() {
    let cases: usize = std::env::var("TRADER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let reference =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/trader.yaml"))
            .expect("config/trader.yaml");
    let sb = crate::common::Sandbox::with_sample("");
    let data = sb.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir data");
    std::fs::rename(sb.path().join("bars"), data.join("bars")).expect("move bars");
    let lines: Vec<String> = reference
        .lines()
        .map(|l| {
            if l.starts_with("root:") {
                format!("root: {}", sb.path().display())
            } else {
                l.to_string()
            }
        })
        .collect();
    let list = entries(&lines);
    assert!(list.len() > 40, "the reference lists its keys");
    let cfg = sb.path().join("fuzz.yaml");
    let shown = cfg.display().to_string();
    // The unmutated reference must run: otherwise every refusal below would prove nothing.
    std::fs::write(&cfg, lines.join("\n")).expect("write");
    let (code, err) = run(&cfg).expect("reference run ends");
    assert!(
        code == 0 || code == 3,
        "reference config: exit {code}: {err}"
    );

    let mut rng = XorShift(0x5EED_C0F1_6000_0001);
    let mut refused = 0;
    for case in 0..cases {
        let (mutated, expect) = mutate(&mut rng, &lines, &list);
        let text = mutated.join("\n");
        std::fs::write(&cfg, &text).expect("write");
        let Some((code, err)) = run(&cfg) else {
            panic!("case {case}: hang on\n{text}");
        };
        assert!(
            code != 101 && !err.contains("panicked"),
            "case {case}: panic\n{err}\n{text}"
        );
        match expect {
            Expect::Refused(path) => {
                assert_eq!(code, 2, "case {case}: {path} accepted\n{err}");
                assert!(
                    err.contains(&shown) && err.contains(&path),
                    "case {case}: refusal must name {shown} and {path}:\n{err}"
                );
                refused += 1;
            }
            Expect::Clean => {
                assert!(
                    [0, 2, 3].contains(&code),
                    "case {case}: exit {code}\n{err}\n{text}"
                );
                if code == 2 {
                    assert!(err.contains(&shown), "case {case}: unnamed file:\n{err}");
                }
            }
        }
    }
    assert!(
        cases < 20 || refused > cases / 4,
        "the mutator produced nonsense"
    );
}
