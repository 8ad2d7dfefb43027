//! Reading a config file: `${VAR}` expansion, the optional 0600 env file, YAML parsing
//! with strict booleans, and resolution of relative paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

/// Variables from the environment and the env file; the environment wins.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    from_file: BTreeMap<String, String>,
}

impl Secrets {
    /// Variables as if read from an env file (tests and callers without one); the process
    /// environment still wins.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Secrets {
        Secrets {
            from_file: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Look a variable up: process environment first, then the env file. A value of a
    /// variable named like a credential is registered as a secret ([`crate::redact`]) before
    /// it is returned.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match std::env::var(name) {
            Ok(v) if !v.is_empty() => v,
            _ => self.from_file.get(name).cloned()?,
        };
        if crate::redact::is_secret_name(name) {
            crate::redact::register(&value);
        }
        Some(value)
    }
}

/// Load, expand, parse, resolve and validate the config at `path`.
pub fn load(path: &Path) -> Result<(Config, Secrets), ConfigError> {
    let file = path.display().to_string();
    let text = crate::fsutil::read_regular_to_string(path).map_err(|cause| ConfigError::Read {
        file: file.clone(),
        cause,
    })?;
    let config_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The env file must be known before expansion, so its key is read from the raw text.
    let secrets = match raw_top_level_value(&text, "env_file") {
        Some(v) if !v.is_empty() && v != "null" && v != "~" => {
            let env_path = resolve(&config_dir, Path::new(&v));
            Secrets {
                from_file: read_env_file(&file, &env_path)?,
            }
        }
        _ => Secrets::default(),
    };
    let expanded = expand_vars(&file, &text, &secrets)?;
    let mut config = parse(&file, &expanded)?;
    config.source_file = path.to_path_buf();
    let root = match &config.root {
        Some(r) => resolve(&config_dir, r),
        None => config_dir.clone(),
    };
    config.paths.resolve_against(&root);
    config.alerts.resolve_against(&root);
    for p in [
        &mut config.schedule.binary,
        &mut config.schedule.environment_file,
        &mut config.schedule.prometheus_file,
    ]
    .into_iter()
    .flatten()
    {
        *p = resolve(&root, p);
    }
    let mut issues = Vec::new();
    if !root.is_dir() {
        // Never created on the fly: a mistyped root would scatter state/, data/ and logs/ in
        // a new directory and start from an empty state.
        issues.push(super::Issue {
            key: "root".into(),
            value: root.display().to_string(),
            allowed: "must be an existing directory (relative paths start at the config file's directory)".into(),
        });
    }
    config.root_dir = root;
    issues.extend(config.validate());
    if !issues.is_empty() {
        return Err(ConfigError::Invalid { file, issues });
    }
    Ok((config, secrets))
}

/// Parse expanded YAML into the typed config.
///
/// Two steps, so that a value's type is what the file says: YAML → a plain tree (a quoted
/// `"true"` stays a string, `.nan` stays the text `.nan`), then tree → [`Config`] with serde's
/// strict types, tracking the key path. Every error names that path (and its line when it can
/// be found): `risk.min_cash_pct (line 3): invalid type: string "abc", expected f64`.
fn parse(file: &str, expanded: &str) -> Result<Config, ConfigError> {
    let fail = |message: String| ConfigError::Parse {
        file: file.to_string(),
        message: crate::redact::scrub_owned(message),
    };
    let options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::AsString,
    };
    let tree: serde_json::Value = serde_saphyr::from_str_with_options(expanded, options)
        .map_err(|e| fail(format!("not valid YAML: {e}")))?;
    if tree.is_null() {
        return Err(fail(
            "the file is empty: a config names at least its `root` (config/trader.yaml lists every key)"
                .into(),
        ));
    }
    if !tree.is_object() {
        return Err(fail(format!(
            "the top level must be a mapping of keys (`root: ..`), not {}",
            kind_of(&tree)
        )));
    }
    serde_path_to_error::deserialize(tree).map_err(|e| {
        let key = e.path().to_string();
        let line = line_of_path(expanded, &key)
            .map(|n| format!(" (line {n})"))
            .unwrap_or_default();
        fail(format!("{key}{line}: {}", e.inner()))
    })
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "nothing",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}

/// The 1-based line of a block-style key path such as `risk.tiers[0].exposure_pct` (list
/// indexes are skipped, so the first item's line is given); `None` when not found, e.g. in
/// flow style (`{ a: 1 }`).
fn line_of_path(text: &str, path: &str) -> Option<usize> {
    let want: Vec<&str> = path
        .split('.')
        .map(|seg| seg.split('[').next().unwrap_or(seg))
        .filter(|seg| !seg.is_empty())
        .collect();
    if want.is_empty() {
        return None;
    }
    let mut stack: Vec<(usize, &str)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let code = strip_comment(raw);
        let trimmed = code.trim_start();
        let mut indent = code.len() - trimmed.len();
        let mut item = trimmed;
        while let Some(rest) = item.strip_prefix("- ") {
            indent += 2;
            item = rest.trim_start();
        }
        let Some((key, _)) = item.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
        if key.is_empty() || key.contains(char::is_whitespace) {
            continue;
        }
        while stack.last().is_some_and(|&(i, _)| i >= indent) {
            stack.pop();
        }
        stack.push((indent, key));
        if stack.len() == want.len() && stack.iter().zip(&want).all(|((_, k), w)| k == w) {
            return Some(n + 1);
        }
    }
    None
}

/// Join a relative path onto `base`; absolute paths stay as they are.
pub fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The value of a top-level `key: value` line, unquoted, comment stripped.
fn raw_top_level_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let value = strip_comment(rest).trim();
        Some(value.trim_matches(|c| c == '"' || c == '\'').to_string())
    })
}

/// The part of a line before a YAML comment (`#` at the start or after white space).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// Replace `${VAR}` outside comments; an unset variable is an error naming the line.
fn expand_vars(file: &str, text: &str, secrets: &Secrets) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.lines().enumerate() {
        let code = strip_comment(line);
        let mut rest = code;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(ConfigError::EnvVar {
                    file: file.to_string(),
                    line: n + 1,
                    message: "unterminated ${".to_string(),
                });
            };
            let name = &after[..end];
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ConfigError::EnvVar {
                    file: file.to_string(),
                    line: n + 1,
                    message: format!("`${{{name}}}` is not a valid variable name"),
                });
            }
            let Some(value) = secrets.get(name) else {
                return Err(ConfigError::EnvVar {
                    file: file.to_string(),
                    line: n + 1,
                    message: format!("${{{name}}} is not set in the environment or the env file"),
                });
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out.push_str(&line[code.len()..]);
        out.push('\n');
    }
    Ok(out)
}

/// Read `KEY=VALUE` lines from an env file that only its owner may read.
fn read_env_file(config_file: &str, path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| ConfigError::EnvFile {
        file: config_file.to_string(),
        message: format!("env_file {shown}: {e}"),
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::EnvFile {
                file: config_file.to_string(),
                message: format!(
                    "env_file {shown} has mode {mode:04o}: it holds secrets, so it must be 0600 or tighter (run: chmod 600 {shown})"
                ),
            });
        }
    }
    let text = crate::fsutil::read_regular_to_string(path).map_err(|e| ConfigError::EnvFile {
        file: config_file.to_string(),
        message: format!("env_file {shown}: {e}"),
    })?;
    let mut vars = BTreeMap::new();
    // Credentials in the file are masked from the moment it is read, used or not.
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err(ConfigError::EnvFile {
                file: config_file.to_string(),
                message: format!("{shown}:{}: expected KEY=VALUE", n + 1),
            });
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            .unwrap_or(v);
        if crate::redact::is_secret_name(k.trim()) {
            crate::redact::register(v);
        }
        vars.insert(k.trim().to_string(), v.to_string());
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_not_expanded() {
        let s = Secrets::default();
        let out = expand_vars("f", "a: 1 # ${NOT_SET_ANYWHERE}\n", &s).expect("expands");
        assert_eq!(out, "a: 1 # ${NOT_SET_ANYWHERE}\n");
    }

    #[test]
    fn unset_variable_names_line_and_var() {
        let s = Secrets::default();
        let err = expand_vars("f.yaml", "x: 1\nkey: ${TRADER_TEST_UNSET_VAR}\n", &s)
            .expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "f.yaml:2: ${TRADER_TEST_UNSET_VAR} is not set in the environment or the env file"
        );
    }

    #[test]
    fn env_file_values_expand() {
        let mut s = Secrets::default();
        s.from_file.insert("TRADER_TEST_X".into(), "42".into());
        let out = expand_vars("f", "n: ${TRADER_TEST_X}\n", &s).expect("expands");
        assert_eq!(out, "n: 42\n");
    }
}
