//! Ticker symbols: the one validated type every edge (config, command line, CSV files,
//! data replies) turns its strings into, and the only thing the bar store builds a file
//! name from.
//!
//! A symbol is 1–[`MAX_LEN`] characters of `A`–`Z`, `0`–`9`, `.` and `-`, starting with a
//! letter or digit, as exchanges spell them (`QQQ`, `BRK.B`, `BF-B`). So no symbol contains a
//! path separator, a `..` component, whitespace or a control character, and none starts like
//! a command-line flag. [`Symbol::parse`] takes exactly that; [`Symbol::from_user`] is for
//! what a person types on the command line: it trims whitespace and upper-cases first.

use std::fmt;

/// The longest symbol accepted.
pub const MAX_LEN: usize = 12;

/// What a symbol may be, for error messages.
pub const RULE: &str =
    "1-12 characters A-Z, 0-9, '.' or '-', starting with a letter or digit, e.g. QQQ or BRK.B";

/// A validated ticker symbol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Symbol(String);

/// Why a string is not a symbol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown} is not a valid symbol: {reason} (symbols are {RULE})")]
pub struct SymbolError {
    /// The refused value, quoted and escaped (it may hold control characters).
    pub shown: String,
    /// What is wrong with it.
    pub reason: String,
}

impl SymbolError {
    fn new(value: &str, reason: impl Into<String>) -> SymbolError {
        // Bounded: a megabyte of junk is not echoed whole.
        let mut v: String = value.chars().take(40).collect();
        if v.len() < value.len() {
            v.push('…');
        }
        SymbolError {
            shown: format!("{v:?}"),
            reason: reason.into(),
        }
    }
}

impl Symbol {
    /// `s` exactly as given: upper case, no surrounding whitespace.
    pub fn parse(s: &str) -> Result<Symbol, SymbolError> {
        let n = s.chars().count();
        if n == 0 {
            return Err(SymbolError::new(s, "empty"));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
        {
            return Err(SymbolError::new(s, format!("{c:?} is not allowed")));
        }
        if n > MAX_LEN {
            return Err(SymbolError::new(
                s,
                format!("{n} characters, at most {MAX_LEN}"),
            ));
        }
        if s.chars().any(|c| c.is_ascii_lowercase()) {
            return Err(SymbolError::new(
                s,
                format!("lower case (write {})", s.to_ascii_uppercase()),
            ));
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(SymbolError::new(s, "does not start with a letter or digit"));
        }
        Ok(Symbol(s.to_string()))
    }

    /// What a person typed: surrounding whitespace trimmed, lower case upper-cased
    /// (`" msft"` is `MSFT`), then [`Symbol::parse`].
    pub fn from_user(s: &str) -> Result<Symbol, SymbolError> {
        Symbol::parse(&s.trim().to_ascii_uppercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_spellings_are_symbols() {
        for s in ["QQQ", "BRK.B", "BF-B", "A", "ZZZZZZZZZZZ1", "3M"] {
            assert_eq!(Symbol::parse(s).map(|x| x.to_string()), Ok(s.to_string()));
        }
    }

    #[test]
    fn paths_separators_and_junk_are_refused_with_the_reason() {
        for (s, why) in [
            ("", "empty"),
            ("../../OUTSIDE", "'/' is not allowed"),
            ("BAD/SYM", "'/' is not allowed"),
            ("..", "does not start with a letter or digit"),
            ("-X", "does not start with a letter or digit"),
            ("A B", "' ' is not allowed"),
            ("A\nB", "'\\n' is not allowed"),
            ("qqq", "lower case (write QQQ)"),
            ("ABCDEFGHIJKLM", "13 characters, at most 12"),
            ("ÄPFEL", "'Ä' is not allowed"),
        ] {
            let e = Symbol::parse(s).expect_err(s);
            assert_eq!(e.reason, why, "{s:?}");
            assert!(e.to_string().contains(&format!("{s:?}")), "{e}");
        }
    }

    #[test]
    fn user_input_is_trimmed_and_upper_cased() {
        assert_eq!(
            Symbol::from_user(" msft ").map(|s| s.into_string()),
            Ok("MSFT".to_string())
        );
        assert!(Symbol::from_user("+MSFT").is_err());
        assert!(Symbol::from_user("  ").is_err());
    }

    #[test]
    fn a_huge_value_is_not_echoed_whole() {
        let e = Symbol::parse(&"A".repeat(10_000)).expect_err("too long");
        assert!(e.to_string().len() < 300, "{e}");
    }
}
