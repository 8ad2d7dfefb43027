//! Known secret values never leave the process: each is replaced by `***` in every message,
//! log line, ledger cell and state field before it is written.
//!
//! A value becomes known when it is read: every variable whose name says it is a credential
//! (`*KEY*`, `*SECRET*`, `*TOKEN*`, `*PASS*`, `*CREDENTIAL*`, `*AUTH*`), from the env file as
//! soon as the file is read and from the environment when the config looks it up, and every
//! [`crate::data::http::Secret`] made for a request. Scrubbing is a substring replace, so
//! a server that echoes a key inside an error body, a config error that quotes an expanded
//! `${APCA_API_SECRET_KEY}`, and a reason typed with a pasted key are all caught. Values shorter
//! than [`MIN_LEN`] characters are not registered: replacing `1` or `on` everywhere would
//! destroy every message and protect nothing a person could not guess.

use std::borrow::Cow;
use std::sync::RwLock;

/// The shortest value treated as a secret.
pub const MIN_LEN: usize = 4;

/// What a secret is replaced with.
pub const MASK: &str = "***";

static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remember `value` as a secret (idempotent; short values are ignored).
pub fn register(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_LEN {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|p| p.into_inner());
    if !known.iter().any(|k| k == value) {
        known.push(value.to_string());
        // Longest first, so a secret that contains another is masked whole.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// True for a variable name that holds a credential by its name.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "SECRET", "TOKEN", "PASS", "CREDENTIAL", "AUTH"]
        .iter()
        .any(|w| upper.contains(w))
}

/// `text` with every known secret replaced by [`MASK`]; borrowed when nothing matched.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|p| p.into_inner());
    if known.is_empty() || !known.iter().any(|k| text.contains(k.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for k in known.iter() {
        if out.contains(k.as_str()) {
            out = out.replace(k.as_str(), MASK);
        }
    }
    Cow::Owned(out)
}

/// [`scrub`] into an owned string.
pub fn scrub_owned(text: String) -> String {
    match scrub(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_everywhere_in_a_text() {
        register("Zk9-test-secret-AAAA");
        register("Zk9-test-secret-AAAA-longer");
        let s = scrub(
            "body: {\"key\":\"Zk9-test-secret-AAAA-longer\", \"k\":\"Zk9-test-secret-AAAA\"}",
        );
        assert_eq!(s, "body: {\"key\":\"***\", \"k\":\"***\"}");
        assert!(matches!(scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_values_are_not_secrets() {
        register("abc");
        assert_eq!(scrub("abc abc"), "abc abc");
    }

    #[test]
    fn credential_names() {
        assert!(is_secret_name("APCA_API_SECRET_KEY"));
        assert!(is_secret_name("smtp_password"));
        assert!(is_secret_name("SCHWAB_TOKEN"));
        assert!(!is_secret_name("HOME"));
        assert!(!is_secret_name("TRADER_ROOT"));
    }
}
