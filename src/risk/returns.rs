//! The return windows a risk context carries: a small map from symbol to daily returns.

use std::borrow::Cow;

use serde::{Serialize, Serializer};

/// Daily returns per symbol, oldest first, aligned on the most recent day. Borrowed from a
/// precomputed series in the daily path and the backtest; owned where tests build them.
///
/// A day's context holds a handful of symbols and is built once per day in symbol order (a
/// backtest builds thousands), so this is a vector sorted by symbol rather than a tree: one
/// allocation, no rebalancing, lookups by binary search. Serialises as a map.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Returns<'a>(Vec<(Cow<'a, str>, Cow<'a, [f64]>)>);

impl<'a> Returns<'a> {
    /// An empty map with room for `n` symbols.
    pub fn with_capacity(n: usize) -> Self {
        Returns(Vec::with_capacity(n))
    }

    #[inline]
    fn find(&self, symbol: &str) -> Result<usize, usize> {
        // Built in symbol order: a new symbol usually goes last.
        match self.0.last() {
            Some((last, _)) if last.as_ref() < symbol => Err(self.0.len()),
            _ => self.0.binary_search_by(|(s, _)| s.as_ref().cmp(symbol)),
        }
    }

    /// The returns of `symbol`.
    pub fn get(&self, symbol: &str) -> Option<&[f64]> {
        self.find(symbol).ok().map(|i| self.0[i].1.as_ref())
    }

    /// Set the returns of `symbol`, giving back the ones it replaces. Appending in symbol
    /// order (how a context is built) moves nothing.
    #[inline]
    pub fn insert(
        &mut self,
        symbol: Cow<'a, str>,
        returns: Cow<'a, [f64]>,
    ) -> Option<Cow<'a, [f64]>> {
        match self.find(&symbol) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, returns)),
            Err(i) if i == self.0.len() => {
                self.0.push((symbol, returns));
                None
            }
            Err(i) => {
                self.0.insert(i, (symbol, returns));
                None
            }
        }
    }

    /// Remove every symbol.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Keep the last `n` returns of each symbol (all of them where there are fewer).
    pub fn keep_last(&mut self, n: usize) {
        for (_, r) in &mut self.0 {
            let cut = r.len().saturating_sub(n);
            match r {
                Cow::Borrowed(s) => *s = &s[cut..],
                Cow::Owned(v) => {
                    v.drain(..cut);
                }
            }
        }
    }

    /// Symbols and their returns, in symbol order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[f64])> {
        self.0.iter().map(|(s, r)| (s.as_ref(), r.as_ref()))
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no symbol has returns.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> FromIterator<(Cow<'a, str>, Cow<'a, [f64]>)> for Returns<'a> {
    /// Later pairs replace earlier ones for the same symbol, as in a map.
    fn from_iter<I: IntoIterator<Item = (Cow<'a, str>, Cow<'a, [f64]>)>>(iter: I) -> Self {
        let mut out = Returns::default();
        for (s, r) in iter {
            out.insert(s, r);
        }
        out
    }
}

impl Serialize for Returns<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_sorted_map() {
        let mut r = Returns::default();
        for s in ["C", "A", "B"] {
            assert!(r.insert(s.into(), vec![1.0, 2.0, 3.0].into()).is_none());
        }
        let old = r.insert("A".into(), vec![9.0].into());
        assert_eq!(old.as_deref(), Some(&[1.0, 2.0, 3.0][..]));
        assert_eq!(
            r.iter().map(|(s, _)| s).collect::<Vec<_>>(),
            ["A", "B", "C"]
        );
        assert_eq!(r.get("A"), Some(&[9.0][..]));
        assert_eq!(r.get("D"), None);
        r.keep_last(2);
        assert_eq!(r.get("A"), Some(&[9.0][..]));
        assert_eq!(r.get("C"), Some(&[2.0, 3.0][..]));
        let borrowed = [4.0, 5.0, 6.0];
        r.insert("B".into(), Cow::Borrowed(&borrowed[..]));
        r.keep_last(1);
        assert_eq!(r.get("B"), Some(&[6.0][..]));
        assert_eq!(
            serde_json::to_string(&r).ok().as_deref(),
            Some(r#"{"A":[9.0],"B":[6.0],"C":[3.0]}"#)
        );
        assert_eq!(r.len(), 3);
        r.clear();
        assert!(r.is_empty());
    }
}
