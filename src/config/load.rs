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
    /// Look a variable up: process environment first, then the env file.
    pub fn get(&self, name: &str) -> Option<String> {
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => Some(v),
            _ => self.from_file.get(name).cloned(),
        }
    }
}

/// Load, expand, parse, resolve and validate the config at `path`.
pub fn load(path: &Path) -> Result<(Config, Secrets), ConfigError> {
    let file = path.display().to_string();
    let text = crate::fsutil::read_regular_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
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
    let options = serde_saphyr::options! { strict_booleans: true };
    let mut config: Config =
        serde_saphyr::from_str_with_options(&expanded, options).map_err(|e| {
            ConfigError::Parse {
                file: file.clone(),
                message: e.to_string(),
            }
        })?;
    config.source_file = path.to_path_buf();
    let root = match &config.root {
        Some(r) => resolve(&config_dir, r),
        None => config_dir.clone(),
    };
    config.paths.resolve_against(&root);
    config.root_dir = root;
    let issues = config.validate();
    if !issues.is_empty() {
        return Err(ConfigError::Invalid { file, issues });
    }
    Ok((config, secrets))
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
