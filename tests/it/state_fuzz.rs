//! Fuzz of `state/state.json` and `state/sim/account.json` through the binary (#18).
//!
//! A fixed-seed xorshift mutates valid files (a JSON leaf replaced by an edge value, a key
//! removed or added, array items swapped or repeated, bytes truncated or flipped), runs
//! `health`, `dry-run` or `preflight` under a timeout, and checks against an oracle written
//! here from the invariants of the issue (not the program's own checker):
//! no panic, no hang; a file that breaks an invariant is never accepted silently — every
//! refusal names the file and the field; a state is recovered only loudly, with the bad
//! file kept aside byte for byte; backups and a bad simulated account are left intact.
//! `TRADER_FUZZ_CASES` sets the count (default 200, about 30 s in a debug build).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Sandbox, code, stderr, stdout};
use crate::state_guard::{DATE, NOW, after_one_day, read_json, run_with_timeout, write_json};

use crate::state_fuzz_oracle::{MAX_CENTS, MAX_SHARES, Verdict, judge_sim, judge_state};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The edge values a leaf is replaced with.
fn edge_value(r: &mut Rng) -> Value {
    let pool = [
        json!(-5),
        json!(0),
        json!(1),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1e300),
        json!(-1e300),
        json!(1.5),
        json!(0.3),
        json!(3.0),
        json!("x"),
        json!("XYZ"),
        json!(""),
        Value::Null,
        json!(true),
        json!([]),
        json!({}),
        json!("2099-01-01T00:00:00Z"),
        json!("2026-04-29"),
        json!(MAX_CENTS + 1),
        json!(MAX_SHARES + 1),
    ];
    pool[r.below(pool.len())].clone()
}

/// Paths of every node below the root (object keys and array indices).
fn paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                at.push(k.clone());
                out.push(at.clone());
                paths(c, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                at.push(i.to_string());
                out.push(at.clone());
                paths(c, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, k| match v {
        Value::Object(m) => m.get_mut(k),
        Value::Array(a) => a.get_mut(k.parse::<usize>().ok()?),
        _ => None,
    })
}

/// One mutation of `bytes`; returns the new bytes and a description.
fn mutate(r: &mut Rng, bytes: &[u8]) -> (Vec<u8>, String) {
    let mut v: Value = serde_json::from_slice(bytes).expect("base is JSON");
    let kind = r.below(10);
    if kind == 0 {
        let cut = r.below(bytes.len());
        return (bytes[..cut].to_vec(), format!("truncated at {cut}"));
    }
    if kind == 1 {
        let mut b = bytes.to_vec();
        let i = r.below(b.len());
        b[i] = b"{}[]\",:-0e9x "[r.below(13)];
        return (b, format!("byte {i} replaced"));
    }
    let mut all = Vec::new();
    paths(&v, &mut Vec::new(), &mut all);
    let path = all[r.below(all.len())].clone();
    let what = match kind {
        2 => {
            let (parent, last) = path.split_at(path.len() - 1);
            match node(&mut v, parent) {
                Some(Value::Object(m)) => {
                    m.remove(&last[0]);
                }
                Some(Value::Array(a)) => {
                    let i: usize = last[0].parse().expect("index");
                    a.remove(i);
                }
                _ => {}
            }
            format!("removed {}", path.join("."))
        }
        3 => {
            // Rename a key to a symbol outside the universe (its value stays valid), or add
            // a key with an edge value.
            let mut d = format!("added a key under {}", path.join("."));
            if let Some(Value::Object(m)) = node(&mut v, &path) {
                let first = m.keys().next().cloned();
                match first {
                    Some(k) if r.below(2) == 0 => {
                        let val = m.remove(&k).expect("key");
                        m.insert("XYZ".into(), val);
                        d = format!("renamed {}.{k} to XYZ", path.join("."));
                    }
                    _ => {
                        let key = ["XYZ", "QQQ", "unknown_key"][r.below(3)];
                        m.insert(key.into(), edge_value(r));
                    }
                }
            }
            d
        }
        4 => {
            if let Some(Value::Array(a)) = node(&mut v, &path)
                && !a.is_empty()
            {
                let i = r.below(a.len());
                let item = a[i].clone();
                a.push(item);
                let n = a.len();
                a.swap(r.below(n), r.below(n));
            }
            format!("repeated/swapped items of {}", path.join("."))
        }
        _ => {
            let e = edge_value(r);
            let d = format!("{} = {e}", path.join("."));
            if let Some(n) = node(&mut v, &path) {
                *n = e;
            }
            d
        }
    };
    (serde_json::to_vec_pretty(&v).expect("json"), what)
}

/// A sandbox with a richer valid state and account than one day leaves.
fn base() -> (Sandbox, Vec<u8>, Vec<u8>) {
    let sb = after_one_day("");
    let state = sb.path().join("state/state.json");
    let mut v = read_json(&state);
    v["account"]["positions"] = json!({"QQQ": 3, "TQQQ": 2});
    v["orders_in_flight"] = json!([{
        "client_order_id": "hav35b-20260501-QQQ-buy-1", "date": DATE, "symbol": "QQQ",
        "side": "buy", "qty": 3, "submitted_at": NOW
    }]);
    v["equity_history"] = json!([
        {"date": "2026-04-28", "equity": 9900.0},
        {"date": "2026-04-29", "equity": 10100.5},
        {"date": "2026-04-30", "equity": 10050.0}
    ]);
    write_json(&state, &v);
    let sim = sb.path().join("state/sim/account.json");
    write_json(
        &sim,
        &json!({
            "cash_cents": 500_000,
            "positions": {"QQQ": 3, "TQQQ": 2},
            "orders": {"hav35b-20260430-QQQ-buy-1": {
                "client_order_id": "hav35b-20260430-QQQ-buy-1", "symbol": "QQQ", "side": "buy",
                "qty": 3, "filled_qty": 3, "avg_fill_price": 670.5, "commission_cents": 0,
                "status": "filled", "reason": null
            }}
        }),
    );
    let out = sb.run(&["health"]);
    assert!(
        !stdout(&out).contains("critical  /"),
        "the fuzz base must be valid: {}",
        stdout(&out)
    );
    let s = std::fs::read(&state).expect("state");
    let a = std::fs::read(&sim).expect("sim");
    (sb, s, a)
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read"))
        })
        .collect()
}

fn restore(sb: &Sandbox, state: &[u8], sim: &[u8], backups: &BTreeMap<String, Vec<u8>>) {
    let sdir = sb.path().join("state");
    for e in std::fs::read_dir(&sdir).expect("state dir").flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with("state.json.corrupt-")
        {
            std::fs::remove_file(e.path()).expect("rm");
        }
    }
    let bdir = sdir.join("backups");
    std::fs::remove_dir_all(&bdir).expect("rm backups");
    std::fs::create_dir_all(&bdir).expect("mkdir");
    for (n, b) in backups {
        std::fs::write(bdir.join(n), b).expect("backup");
    }
    std::fs::write(sdir.join("state.json"), state).expect("state");
    std::fs::write(sdir.join("sim/account.json"), sim).expect("sim");
}

#[test]
fn mutated_states_and_sim_accounts_are_refused_naming_file_and_field() {
    let cases: usize = std::env::var("TRADER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let (sb, state0, sim0) = base();
    let sdir = sb.path().join("state");
    let backups0 = snapshot(&sdir.join("backups"));
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    let commands: [&[&str]; 3] = [
        &["health"],
        &["dry-run", "--date", DATE, "--force", "--skip-preflight"],
        &["preflight", "--date", DATE],
    ];
    for case in 0..cases {
        restore(&sb, &state0, &sim0, &backups0);
        let on_state = rng.below(5) < 3;
        let (file, base_bytes) = if on_state {
            (sdir.join("state.json"), &state0)
        } else {
            (sdir.join("sim/account.json"), &sim0)
        };
        let (bytes, what) = mutate(&mut rng, base_bytes);
        std::fs::write(&file, &bytes).expect("write mutated");
        let verdict = if on_state {
            judge_state(&bytes)
        } else {
            judge_sim(&bytes)
        };
        let args = commands[rng.below(commands.len())];
        let ctx = format!(
            "case {case}: {} {what} → {verdict:?}, `{}`",
            file.display(),
            args.join(" ")
        );
        let out = run_with_timeout(&sb, args, Duration::from_secs(60))
            .unwrap_or_else(|| panic!("{ctx}: hung"));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !all.contains("panicked") && code(&out) != 101,
            "{ctx}: panic: {all}"
        );
        let shown = file.display().to_string();
        let kept_aside = || {
            std::fs::read_dir(&sdir).expect("dir").flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("state.json.corrupt-")
                    && std::fs::read(e.path()).is_ok_and(|b| b == bytes)
            })
        };
        let fields = match &verdict {
            Verdict::Invalid(f) | Verdict::Universe(f) => f.clone(),
            _ => Vec::new(),
        };
        let names_fields = fields.iter().all(|f| all.contains(f.as_str()));
        match &verdict {
            Verdict::Valid => *tally.entry("valid").or_default() += 1,
            Verdict::NotJson | Verdict::Invalid(_) => {
                *tally.entry("invalid").or_default() += 1;
                assert!(
                    all.contains(&shown),
                    "{ctx}: the refusal must name the file: {all}"
                );
                assert!(
                    names_fields || matches!(verdict, Verdict::NotJson) && all.contains("line"),
                    "{ctx}: the refusal must name {fields:?} (or the line): {all}"
                );
                if on_state && args[0] != "health" {
                    // A job continues from a backup only loudly and keeps the bad file.
                    assert!(all.contains("STATE RECOVERED"), "{ctx}: {all}");
                    assert!(kept_aside(), "{ctx}: the unusable state was not kept aside");
                } else {
                    assert_ne!(code(&out), 0, "{ctx}: exit 0 on nonsense: {all}");
                    assert_eq!(std::fs::read(&file).expect("file"), bytes, "{ctx}: changed");
                }
            }
            Verdict::Universe(_) => {
                *tally.entry("outside universe").or_default() += 1;
                assert_ne!(
                    code(&out),
                    0,
                    "{ctx}: exit 0 on another config's file: {all}"
                );
                assert!(
                    all.contains(&shown) && names_fields,
                    "{ctx}: must name the file and {fields:?}: {all}"
                );
                assert_eq!(std::fs::read(&file).expect("file"), bytes, "{ctx}: changed");
            }
        }
        // Nothing lost: every backup of the base is still there, byte for byte.
        let now = snapshot(&sdir.join("backups"));
        for (n, b) in &backups0 {
            assert_eq!(now.get(n), Some(b), "{ctx}: backup {n} lost or changed");
        }
        // Whatever the outcome, the state left behind is valid or untouched.
        let left = std::fs::read(sdir.join("state.json")).expect("state.json");
        assert!(
            trader::state::store::parse_at(&left, None).is_ok() || (on_state && left == bytes),
            "{ctx}: the run left an invalid state.json"
        );
    }
    eprintln!("state fuzz: {cases} case(s): {tally:?}");
    if cases >= 100 {
        for k in ["valid", "invalid", "outside universe"] {
            assert!(
                tally.get(k).copied().unwrap_or(0) > 0,
                "no {k} case in {cases}: {tally:?}"
            );
        }
    }
}
