//! `config/trader.yaml` lists every key the parser accepts, each with its default (issue #17).
//!
//! Key paths are compared, not text: the YAML's own mapping keys against the keys of the typed
//! `Config` parsed from it and serialised back (serialisation writes every field, defaults
//! included, so a key the file leaves out shows up as missing). Values are compared with
//! `Config` parsed from an empty mapping, i.e. the defaults, except `root` and the flagship's
//! two wider risk limits (annotated with their defaults in the file).

use std::collections::BTreeSet;

use serde_json::Value;

use super::Config;

fn paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.insert(p.clone());
            paths(child, &p, out);
        }
    }
}

fn parse(text: &str) -> Config {
    let options = serde_saphyr::options! { strict_booleans: true };
    serde_saphyr::from_str_with_options(text, options).expect("parses as Config")
}

fn reference() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/trader.yaml");
    std::fs::read_to_string(path).expect("config/trader.yaml")
}

#[test]
fn trader_yaml_lists_exactly_the_keys_the_parser_accepts() {
    let text = reference();
    let raw: Value = serde_saphyr::from_str(&text).expect("YAML");
    let typed = serde_json::to_value(parse(&text)).expect("serialise");
    let (mut in_file, mut known) = (BTreeSet::new(), BTreeSet::new());
    paths(&raw, "", &mut in_file);
    paths(&typed, "", &mut known);
    let missing: Vec<&String> = known.difference(&in_file).collect();
    let extra: Vec<&String> = in_file.difference(&known).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "config/trader.yaml misses {missing:?}; lists unknown {extra:?}"
    );
}

#[test]
fn trader_yaml_shows_the_defaults() {
    let mut file = serde_json::to_value(parse(&reference())).expect("serialise");
    let mut defaults = serde_json::to_value(parse("{}")).expect("serialise");
    for v in [&mut file, &mut defaults] {
        if let Value::Object(m) = v {
            m.remove("root");
        }
    }
    let (mut a, mut b) = (BTreeSet::new(), BTreeSet::new());
    leaves(&file, "", &mut a);
    leaves(&defaults, "", &mut b);
    // The flagship's wider risk limits, each annotated with the default in the file.
    let deliberate = [
        "risk.drawdown_budget.tiers",
        "risk.expected_shortfall.limit_pct",
    ];
    let differ: Vec<&String> = a
        .symmetric_difference(&b)
        .filter(|l| !deliberate.iter().any(|k| l.starts_with(&format!("{k} = "))))
        .collect();
    assert!(
        differ.is_empty(),
        "values that differ from the defaults: {differ:?}"
    );
}

fn leaves(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(child, &p, out);
            }
        }
        other => {
            out.insert(format!("{prefix} = {other}"));
        }
    }
}
