//! A deterministic xorshift64 generator for randomised tests: no dependency, and the same
//! sequence from the same seed on every machine.

pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator starting from `seed` (not 0, which xorshift never leaves).
    pub(crate) fn new(seed: u64) -> Self {
        XorShift(seed)
    }

    /// The next state.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut s = self.0;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        self.0 = s;
        s
    }

    /// The next state modulo `n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
